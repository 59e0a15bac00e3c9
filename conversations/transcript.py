"""How a turn is written into the model's message list, and read back as the page shows it.

A turn is the user's message, then the agent's AI messages and tool results, then the
answer; a direct answer is a single AI message. A python step is an AI tool call (its code)
and the tool's message, whose `content` is what the model reads (long output shortened, with
a note) and whose `artifact` is the step (status, result, stdout, stderr, and its Jupyter
outputs: `conversations.outputs`). The page's history (`page_messages`) and the live stream
(`step_updates`) are read from these same messages, so they cannot disagree.
"""

import json
from collections.abc import Iterable

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from conversations.outputs import client_step, model_outputs

PYTHON_TOOL = "Python_REPL"
STOPPED = "stopped"
STOPPED_CONTENT = (
    "Stopped before it finished (the user stopped the answer, or the turn ran out of time); "
    "the session keeps whatever the code did until then."
)
SHORTENED_NOTE = (
    "[... {cut:,} of {total:,} characters cut here (TOOL_RESULT_MAX_CHARS); "
    "the user sees the whole output ...]"
)


def tool_content(step: dict, max_chars: int, note: str | None = None) -> str:
    """What the model reads of a step: result, stdout and stderr, together at most about
    `max_chars` characters (each long one keeps its start and end around a note), and a short
    text form of each image and table (their data goes to the user alone)."""
    fields = {key: step.get(key) for key in ("result", "stdout", "stderr")}
    texts = {key: value for key, value in fields.items() if isinstance(value, str)}
    for key, limit in _shares(texts, max_chars).items():
        fields[key] = _shortened(texts[key], limit)
    visible: dict = dict(fields)
    if note:
        visible["note"] = note
    shown = model_outputs(step)
    if shown:
        visible["outputs"] = shown
    return json.dumps(visible, indent=2)


def _shares(texts: dict[str, str], budget: int) -> dict[str, int]:
    """The longest texts are cut to equal shares of `budget`; shorter ones stay whole."""
    remaining = dict(texts)
    while remaining:
        share = budget // len(remaining)
        fitting = {key: text for key, text in remaining.items() if len(text) <= share}
        if not fitting:
            return {key: share for key in remaining}
        for key, text in fitting.items():
            budget -= len(text)
            del remaining[key]
    return {}


def _shortened(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[len(text) - limit // 3 :]
    note = SHORTENED_NOTE.format(cut=len(text) - len(head) - len(tail), total=len(text))
    return f"{head}\n{note}\n{tail}"


def stopped_result(tool_call_id: str) -> ToolMessage:
    """The result of a call whose code was stopped: it keeps the message list valid (every
    tool call is answered) and reads as stopped on the page."""
    return ToolMessage(
        STOPPED_CONTENT, tool_call_id=tool_call_id, artifact={"status": STOPPED}, status="error"
    )


def answer(text: str, route: str | None, error: dict | None = None) -> AIMessage:
    """The turn's closing AI message when no model wrote it (a stop, a deadline, a failure)."""
    return mark_answer(AIMessage(text), route, error)


def mark_answer(message: AIMessage, route: str | None, error: dict | None = None) -> AIMessage:
    """The answer with the turn's route (and error) kept where the model does not read it."""
    metadata = {**message.response_metadata, "route": route}
    if error:
        metadata["error"] = error
    return message.model_copy(update={"response_metadata": metadata})


def step_updates(message: BaseMessage, indexes: dict[str, int], raw: bool = False) -> list[dict]:
    """The steps a message starts (tool calls: code, "running") or finishes (tool results),
    as clients see them (`raw`: with the Jupyter outputs kept). `indexes` numbers the turn's
    tool calls; pass the same dict for a whole turn."""
    if isinstance(message, AIMessage):
        steps = []
        for call in message.tool_calls:
            indexes[call["id"] or ""] = len(indexes)
            code = call["args"].get("python_code", "")
            steps.append({"index": indexes[call["id"] or ""], "code": code, "status": "running"})
        return steps
    if isinstance(message, ToolMessage) and message.tool_call_id in indexes:
        index = indexes[message.tool_call_id]
        if isinstance(message.artifact, dict):
            step = message.artifact if raw else client_step(message.artifact)
            return [{"index": index, **step}]
        # No artifact: the tool call itself was rejected (for example, malformed arguments).
        return [{"index": index, "status": "Failure", "stderr": message.text}]
    return []


def merge_steps(steps: list[dict], updates: list[dict]) -> list[dict]:
    """Steps with updates applied, merged by `index`."""
    by_index = {step["index"]: dict(step) for step in steps}
    for update in updates:
        by_index[update["index"]] = {**by_index.get(update["index"], {}), **update}
    return [by_index[index] for index in sorted(by_index)]


def page_messages(messages: Iterable[BaseMessage], raw_steps: bool = False) -> list[dict]:
    """The conversation as the page shows it: {"role", "content", "route", "steps"} for the
    user's message (no route, no steps) and for the answer (plus "error" if it failed);
    `raw_steps` keeps each step's Jupyter outputs (for the notebook)."""
    page: list[dict] = []
    reply: dict | None = None
    indexes: dict[str, int] = {}
    for message in messages:
        if isinstance(message, HumanMessage):
            page.append({"role": "user", "content": message.text, "route": None, "steps": []})
            reply, indexes = None, {}
            continue
        if reply is None:
            reply = {"role": "assistant", "content": "", "route": "chat", "steps": []}
            page.append(reply)
        if isinstance(message, AIMessage):
            reply["content"] += message.text
            reply["route"] = message.response_metadata.get("route") or reply["route"]
            if message.response_metadata.get("error"):
                reply["error"] = message.response_metadata["error"]
        updates = step_updates(message, indexes, raw_steps)
        if updates:
            reply["steps"] = merge_steps(reply["steps"], updates)
    return page
