"""The code agent's input and output as clients send and receive them (the /agent route)."""

from typing import Any

from langchain_core.messages import AnyMessage, convert_to_messages
from pydantic import BaseModel, Field, field_validator

INT64_RANGE = range(-(2**63), 2**64)  # what the JSON encoder of the answers can write


def encodable(value: Any) -> Any:
    """`value` unchanged if an answer can carry it back: no lone surrogate in any text, no
    integer beyond 64 bits. Input is echoed in answers, model requests and logs, where such
    values fail late, as server errors; they are refused up front instead."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (a lone surrogate was found)") from None
    elif isinstance(value, int) and not isinstance(value, bool) and value not in INT64_RANGE:
        raise ValueError("integers must fit in 64 bits")
    elif isinstance(value, dict):
        for key, item in value.items():
            encodable(key), encodable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            encodable(item)
    return value


class AgentInput(BaseModel):
    """The agent's state: the conversation so far, ending with the user's message."""

    # LangServe's chat widget: the playground opens with a message to type, and adds the answer.
    messages: list[AnyMessage] = Field(
        json_schema_extra={"extra": {"widget": {"type": "chat", "input": "messages"}}}
    )

    @field_validator("messages", mode="before")
    @classmethod
    def _accept_openai_style(cls, value: Any) -> list:
        # {"role": "user", "content": ...} as well as LangChain's {"type": "human", ...}.
        # LangChain's message classes raise more than ValueError on malformed fields
        # (`"tool_calls": "x"` is an AttributeError, a tool message without its call id a
        # KeyError): all of them are the client's mistake.
        try:
            return convert_to_messages(encodable(value))
        except (TypeError, ValueError, LookupError, AttributeError, NotImplementedError) as error:
            raise ValueError(f"messages must be chat messages: {error}") from None

    @field_validator("messages")
    @classmethod
    def _sendable_to_the_model(cls, messages: list[AnyMessage]) -> list[AnyMessage]:
        # The OpenAI client copies an assistant message's raw `tool_calls` into its request,
        # reading each as an object.
        for message in messages:
            calls = message.additional_kwargs.get("tool_calls", [])
            if not (isinstance(calls, list) and all(isinstance(c, dict) for c in calls)):
                raise ValueError("additional_kwargs.tool_calls must be a list of tool calls")
        return messages


class AgentOutput(BaseModel):
    """The agent's state after the turn: the input messages, then its calls and answer."""

    messages: list[AnyMessage]
