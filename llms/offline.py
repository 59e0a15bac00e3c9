"""The offline model: a deterministic chat model that turns arithmetic and clock questions into
Python tool calls, and says plainly what it cannot do."""

import ast
import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.messages.tool import ToolCallChunk, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from llms.arithmetic import NUMBER, mentions_previous_result, to_python_expression
from llms.clock import clock_question

LABEL = "[offline model]"
CONFIGURE = (
    "To talk to a real model, set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT "
    "(Azure OpenAI), or OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL (any "
    "OpenAI-compatible server) in .env, then restart the service."
)
HELP_TEXT = (
    f"{LABEL} No language model is configured, so I can only run arithmetic and read the "
    "clock for you (for example: what is 25 * 847? then: what's the square root of that? "
    f"or: what time is it?). {CONFIGURE}"
)
CANNOT = "I cannot answer “{part}”: no language model is configured (see the README)."
NO_EARLIER_RESULT = (
    "There is no earlier result in this conversation for “{part}” to refer to; "
    "ask for a calculation first (for example: what is 25 * 847?)."
)
OUT_OF_RANGE = " (beyond the range of floating-point numbers)"
# An earlier answer of this model that states a result: "... 25 * 847 = 21175".
_STATED_RESULT = re.compile(rf"= (-?{NUMBER})(?![\w.])")
# Where one request ends and the next begins: "25 * 847? Also, what time is it?"
_PART_BREAK = re.compile(
    r"(?<=[?!;])\s+|(?<=[^\d\s]\.)\s+|\s*\b(?:and )?also\b,?\s*"
    r"|,?\s+and\s+(?=(?:what|how|which|when|tell|give|show)\b)",
    re.IGNORECASE,
)


@dataclass
class Task:
    """One part of the user's message that Python answers: its code, and how to word the
    answer from the tool's output."""

    code: str
    answer: Callable[[dict], str]


@dataclass
class Plan:
    tasks: list[Task] = field(default_factory=list)
    # Sentences about the other parts: those that refer to a result there is none of yet,
    # and those only a language model could answer.
    no_result: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)


class OfflineChatModel(BaseChatModel):
    """Not a language model: it recognises arithmetic and clock questions, and otherwise
    explains how to configure one.

    With a tool that takes `python_code` bound, each recognised part of the last user message
    becomes a call to that tool; with a schema that has a `route` field bound (structured
    output), it chooses "python" when there is such a part and "chat" otherwise. Every answer
    names the model.
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
        if python_tool and isinstance(messages[-1], ToolMessage):
            return AIMessage(content=_report(messages))
        plan = _plan(messages)
        if route_schema:
            return _tool_calls(route_schema["name"], [{"route": _route(plan)}])
        if python_tool and plan.tasks:
            return _tool_calls(python_tool["name"], [{"python_code": t.code} for t in plan.tasks])
        if plan.no_result and not plan.tasks:
            return AIMessage(content=f"{LABEL} {' '.join(plan.no_result)}")
        return AIMessage(content=HELP_TEXT)


def _route(plan: Plan) -> str:
    return "python" if plan.tasks else "chat"


def _find(functions: list[dict], field_name: str) -> dict | None:
    for function in functions:
        if field_name in function.get("parameters", {}).get("properties", {}):
            return function
    return None


def _tool_calls(name: str, calls: list[dict]) -> AIMessage:
    tool_calls = [
        {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
        for args in calls
    ]
    return AIMessage(content="", tool_calls=tool_calls)


def _as_chunks(message: AIMessage) -> list[ToolCallChunk]:
    return [
        tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
        for i, c in enumerate(message.tool_calls)
    ]


# ---- understanding the request -------------------------------------------------------------


def _plan(messages: list[BaseMessage]) -> Plan:
    """What Python can answer in the last user message, and sentences about the rest."""
    last = _last_user_index(messages)
    if last is None:
        return Plan()
    text = messages[last].text
    previous = _previous_result(messages[:last])
    plan = Plan()
    for part in _parts(text):
        question = clock_question(part)
        if question:
            plan.tasks.append(Task(question.code, _clock_answer(question.answer)))
        expression = to_python_expression(
            part, previous if mentions_previous_result(part) else None
        )
        if expression:
            plan.tasks.append(_arithmetic(expression))
        elif not question:
            _explain_unanswered(plan, part, previous)
    return plan


def _explain_unanswered(plan: Plan, part: str, previous: str | None) -> None:
    refers_back = mentions_previous_result(part) and previous is None
    if refers_back and to_python_expression(part, "1"):
        plan.no_result.append(NO_EARLIER_RESULT.format(part=part))
    elif len(part.split()) > 2:  # not a greeting or a "thanks"
        plan.unanswered.append(CANNOT.format(part=part))


def _parts(text: str) -> list[str]:
    """The message split into its requests, each without trailing punctuation."""
    pieces = (p.strip(" ,.?!;") for p in _PART_BREAK.split(text.strip()) if p)
    return [p for p in pieces if p]


def _last_user_index(messages: list[BaseMessage]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return None


def _previous_result(messages: list[BaseMessage]) -> str | None:
    """The last number computed earlier in the conversation: a tool's numeric result, or the
    result stated in one of this model's answers. Never a number quoted in other text (such as
    the example in the help message)."""
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            result = _number(_tool_output(message).get("result"))
        elif isinstance(message, AIMessage):
            stated = _STATED_RESULT.findall(message.text)
            result = stated[-1] if stated else None
        else:
            continue
        if result is not None:
            return result
    return None


def _number(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str) and re.fullmatch(rf"-?{NUMBER}", value.strip()):
        return value.strip()
    return None


# ---- answering from the tool's output ------------------------------------------------------


def _arithmetic(expression: str) -> Task:
    prefix = "import math\n" if "math." in expression else ""

    def answer(output: dict) -> str:
        result = output.get("result")
        if result is None:
            # JSON has no infinity or NaN: pools send no value for them.
            return f"{expression} is beyond the range of floating-point numbers (infinity or NaN)"
        note = OUT_OF_RANGE if str(result) in ("inf", "-inf", "nan") else ""
        return f"{expression} = {result}{note}"

    # Keeping `result` in the session lets later code build on it.
    return Task(f"{prefix}result = {expression}\nresult", answer)


def _clock_answer(template: str) -> Callable[[dict], str]:
    def answer(output: dict) -> str:
        value = _plain(output.get("result")) or str(output.get("stdout", "")).rstrip()
        return template.format(value=value)

    return answer


def _plain(result: Any) -> str:
    """A result as text: a string's repr ('12:00 UTC') read back as the string itself."""
    if result in ("", None):
        return ""
    if isinstance(result, str):
        try:
            value = ast.literal_eval(result)
        except (ValueError, SyntaxError):
            return result
        return value if isinstance(value, str) else result
    return str(result)


def _tool_output(message: ToolMessage) -> dict:
    """The run's result, stdout, stderr (and the tool's note), from the artifact or the text."""
    parsed: Any
    try:
        parsed = json.loads(message.text)
    except ValueError:
        parsed = {"result": message.text}
    output = parsed if isinstance(parsed, dict) else {"result": parsed}
    if isinstance(message.artifact, dict):
        kept = {k: v for k, v in message.artifact.items() if k not in ("images", "outputs")}
        output = {**output, **kept}
    return output


def _failed(output: dict) -> bool:
    if "status" in output:
        return output["status"] not in ("Success", "Succeeded")
    return bool(output.get("stderr")) and output.get("result") in ("", None)


def _report(messages: list[BaseMessage]) -> str:
    """The answer once the tool calls of the last model message have run."""
    call_index = max(i for i, m in enumerate(messages) if isinstance(m, AIMessage) and m.tool_calls)
    outputs = {
        m.tool_call_id: _tool_output(m)
        for m in messages[call_index + 1 :]
        if isinstance(m, ToolMessage)
    }
    plan = _plan(messages[:call_index])
    calls = cast(AIMessage, messages[call_index]).tool_calls
    notes, sentences = [], []
    for index, call in enumerate(calls):
        output = outputs.get(call["id"] or "", {})
        if output.get("note") and output["note"] not in notes:
            notes.append(output["note"])
        if _failed(output):
            last_line = str(output["stderr"]).strip().splitlines()[-1:]
            sentences.append(f"The code failed: {' '.join(last_line)}")
        elif index < len(plan.tasks):
            sentences.append(plan.tasks[index].answer(output))
        else:
            sentences.append(f"The result is {output.get('result')}")
    body = "\n\n".join([*sentences, *plan.no_result, *plan.unanswered])
    return f"{LABEL} {' '.join(notes)}{' ' if notes else ''}{body}"
