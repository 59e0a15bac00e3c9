"""The offline model: a deterministic chat model that turns arithmetic into Python tool calls."""

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from llms.arithmetic import mentions_previous_result, to_python_expression

LABEL = "[offline model]"
HELP_TEXT = (
    f"{LABEL} No language model is configured, so I can only run arithmetic for you "
    "(for example: what is 25 * 847? then: what's the square root of that?). "
    "To talk to a real model, set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT "
    "(Azure OpenAI), or OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL (any "
    "OpenAI-compatible server) in .env, then restart the service."
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


class OfflineChatModel(BaseChatModel):
    """Not a language model: it recognises arithmetic and otherwise explains how to configure one.

    With a tool that takes `python_code` bound, arithmetic in the last user message becomes
    a call to that tool; with a schema that has a `route` field bound (structured output),
    it chooses "python" for arithmetic and "chat" otherwise. Every answer names the model.
    """

    @property
    def _llm_type(self) -> str:
        return "offline"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any):
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(self, schema: Any, *, method: str | None = None, **kwargs: Any):
        # `method` selects an OpenAI wire format; this model has only one way to answer.
        return super().with_structured_output(schema, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs):
        message = self._reply(messages, kwargs.get("tools") or [])
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs
    ) -> Iterator[ChatGenerationChunk]:
        message = self._reply(messages, kwargs.get("tools") or [])
        if message.tool_calls:
            chunk = AIMessageChunk(content="", tool_call_chunks=_as_chunks(message))
            yield ChatGenerationChunk(message=chunk)
            return
        for token in re.findall(r"\S+\s*", message.text):
            if run_manager:
                run_manager.on_llm_new_token(token)
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))

    def _reply(self, messages: list[BaseMessage], tools: list[dict]) -> AIMessage:
        functions = [tool["function"] for tool in tools]
        route_schema = _find(functions, "route")
        python_tool = _find(functions, "python_code")
        if route_schema:
            return _tool_call(route_schema["name"], {"route": _route(messages)})
        if python_tool and isinstance(messages[-1], ToolMessage):
            return AIMessage(content=_report(messages))
        expression = _expression(messages)
        if python_tool and expression:
            return _tool_call(python_tool["name"], {"python_code": _code(expression)})
        return AIMessage(content=HELP_TEXT)


def _find(functions: list[dict], field: str) -> dict | None:
    for function in functions:
        if field in function.get("parameters", {}).get("properties", {}):
            return function
    return None


def _tool_call(name: str, args: dict) -> AIMessage:
    call = {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
    return AIMessage(content="", tool_calls=[call])


def _as_chunks(message: AIMessage) -> list[dict]:
    return [
        {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
        for i, c in enumerate(message.tool_calls)
    ]


def _last_user_text(messages: list[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def _previous_result(messages: list[BaseMessage]) -> str | None:
    """The last number the conversation produced: a tool result or an earlier answer."""
    seen_user = False
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            seen_user = True
        elif seen_user and isinstance(message, ToolMessage | AIMessage):
            numbers = _NUMBER.findall(_result_text(message))
            if numbers:
                return numbers[-1]
    return None


def _result_text(message: BaseMessage) -> str:
    if isinstance(message, ToolMessage):
        return str(_parse_tool_output(message.text).get("result", ""))
    return message.text


def _expression(messages: list[BaseMessage]) -> str | None:
    text = _last_user_text(messages)
    previous = _previous_result(messages) if mentions_previous_result(text) else None
    return to_python_expression(text, previous)


def _route(messages: list[BaseMessage]) -> str:
    return "python" if _expression(messages) else "chat"


def _code(expression: str) -> str:
    prefix = "import math\n" if "math." in expression else ""
    # Keeping `result` in the session lets later code build on it.
    return f"{prefix}result = {expression}\nresult"


def _parse_tool_output(text: str) -> dict:
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"result": text}
    return parsed if isinstance(parsed, dict) else {"result": parsed}


def _report(messages: list[BaseMessage]) -> str:
    output = _parse_tool_output(messages[-1].text)
    note = f"{output['note']} " if output.get("note") else ""
    if output.get("stderr"):
        last_line = str(output["stderr"]).strip().splitlines()[-1:]
        return f"{LABEL} {note}The code failed: {' '.join(last_line)}"
    expression = _expression(messages[:-2]) if len(messages) > 2 else None
    result = output.get("result")
    if result in ("", None):
        return f"{LABEL} {note}The code ran and printed: {str(output.get('stdout', '')).strip()}"
    shown = f"{expression} = {result}" if expression else f"The result is {result}"
    return f"{LABEL} {note}{shown}"
