"""The /chat output and its stream chunks, which add up to the final output."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, create_model

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


def chat_input_model(max_chars: int) -> type[BaseModel]:
    """The /chat input: one non-empty message of at most `max_chars` characters."""
    message = Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_chars),
    ]
    return create_model("ChatInput", message=(message, Field(description="The user's message.")))


class Step(BaseModel):
    """One run of code in the conversation's session."""

    index: int
    code: str
    status: str = Field(description='"running" while it runs, then "Success" or "Failure"')
    result: Any = None
    stdout: str = ""
    stderr: str = ""
    images: list[str] = Field(default_factory=list, description="base64 PNG images")


class ChatOutput(BaseModel):
    output: str
    route: Literal["python", "chat"]
    conversation_id: str
    steps: list[Step] = Field(default_factory=list)


class ChatChunk(dict):
    """A piece of the /chat output: `output` text is appended, `steps` merge by `index`.

    Streams send the route first, then each step when its code is known (status "running")
    and again with its result, then the answer token by token.
    """

    def __add__(self, other: dict) -> "ChatChunk":
        merged = ChatChunk(self)
        for key, value in other.items():
            if key == "output":
                merged["output"] = merged.get("output", "") + value
            elif key == "steps":
                merged["steps"] = _merge_steps(merged.get("steps", []), value)
            else:
                merged[key] = value
        return merged


def _merge_steps(steps: list[dict], updates: list[dict]) -> list[dict]:
    by_index = {step["index"]: dict(step) for step in steps}
    for update in updates:
        by_index[update["index"]] = {**by_index.get(update["index"], {}), **update}
    return [by_index[index] for index in sorted(by_index)]
