"""The model remembers its work: earlier tool calls (their code) and results reach it in
later turns, across a direct answer and a restart of the service, within a bound."""

import json

import pytest
from langchain_core.messages import convert_to_messages
from langchain_core.messages.utils import count_tokens_approximately

from tests.service.conftest import azure_env, pool_env, run_service
from tests.service.helpers import ask_chat, new_id
from tests.support.postgres import with_password
from tests.support.scripted_llm import ScriptedLLM, Text, ToolCall

FILTER_CODE = "filtered = [x for x in range(10) if x % 3 == 0]\nlen(filtered)"


def _python_turn(llm: ScriptedLLM, code: str, answer: str) -> ToolCall:
    call = ToolCall("Python_REPL", {"python_code": code})
    llm.script(ToolCall("RouteDecision", {"route": "python"}), call, Text(answer))
    return call


def _requests_since(llm: ScriptedLLM, start: int) -> list[dict]:
    return [r["body"] for r in llm.requests[start:]]


def _assert_remembers(request: dict, call: ToolCall, direct_answer: str) -> None:
    """The request holds the earlier tool call as OpenAI's shape: the assistant's call with
    its code, then the tool's message answering that call id with its result."""
    messages = request["messages"]
    asked = [m for m in messages if m["role"] == "assistant" and m.get("tool_calls")]
    calls = [c for m in asked for c in m["tool_calls"] if c["id"] == call.id]
    assert calls, f"turn 1's tool call is missing from {json.dumps(messages)[:2000]}"
    assert calls[0]["type"] == "function" and calls[0]["function"]["name"] == "Python_REPL"
    assert json.loads(calls[0]["function"]["arguments"]) == {"python_code": FILTER_CODE}
    results = [m for m in messages if m["role"] == "tool" and m["tool_call_id"] == call.id]
    assert results and json.loads(results[0]["content"])["result"] == 4
    assistant_texts = [m.get("content") for m in messages if m["role"] == "assistant"]
    assert direct_answer in assistant_texts


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_earlier_code_and_results_reach_the_model_across_turns_and_restarts(
    database, scripted_llm, llm, session_pool, tmp_path, request
):
    env = {**azure_env(scripted_llm), **pool_env(session_pool)}
    if database == "postgres":
        env["DATABASE_URL"] = with_password(request.getfixturevalue("postgres_url"))
    conversation = new_id()
    with run_service(env, tmp_path) as service:
        call = _python_turn(llm, FILTER_CODE, "There are 4 of them.")
        ask_chat(service, conversation, "keep the multiples of 3 below 10")
        llm.script(ToolCall("RouteDecision", {"route": "chat"}), Text("You are welcome."))
        ask_chat(service, conversation, "thanks")
        start = len(llm.requests)
        _python_turn(llm, "filtered[-1]", "The last one is 9.")
        third = ask_chat(service, conversation, "which is the last one I filtered?")
        turn_three = _requests_since(llm, start)

    with run_service(env, tmp_path) as service:
        start = len(llm.requests)
        _python_turn(llm, "sum(filtered)", "They add up to 18.")
        fourth = ask_chat(service, conversation, "and their sum?")
        turn_four = _requests_since(llm, start)
        with service.http() as http:
            shown = http.get(f"/conversations/{conversation}").json()["messages"]

    assert third["steps"][0]["result"] == 9 and fourth["steps"][0]["result"] == 18
    for requests in (turn_three, turn_four):
        decider, agent_first, agent_after_tool = requests
        for body in (decider, agent_first, agent_after_tool):
            _assert_remembers(body, call, "You are welcome.")
    assert [m["role"] for m in shown] == ["user", "assistant"] * 4
    assert [m["route"] for m in shown[1::2]] == ["python", "chat", "python", "python"]
    assert shown[1]["steps"][0]["code"] == FILTER_CODE and shown[1]["steps"][0]["result"] == 4
    assert shown[3]["content"] == "You are welcome." and shown[3]["steps"] == []


def _history_tokens(body: dict) -> int:
    """The approximate tokens of the earlier turns in a request: everything between the
    system prompt and the current user message."""
    messages = convert_to_messages(body["messages"])
    last_user = max(i for i, m in enumerate(messages) if m.type == "human")
    earlier = [m for m in messages[:last_user] if m.type != "system"]
    return count_tokens_approximately(earlier)


def test_two_hundred_turns_send_the_model_at_most_the_bound(
    scripted_llm, llm, session_pool, tmp_path
):
    bound = 1500
    env = {**azure_env(scripted_llm), **pool_env(session_pool), "HISTORY_MAX_TOKENS": str(bound)}
    conversation = new_id()
    with run_service(env, tmp_path) as service:
        for turn in range(200):
            # Every tenth turn runs code; the others are answered directly.
            message = f"What is {turn} * 3?" if turn % 10 == 0 else f"hello, this is turn {turn}"
            ask_chat(service, conversation, message)
        with service.http() as http:
            shown = http.get(f"/conversations/{conversation}").json()["messages"]

    last_turns = _requests_since(llm, len(llm.requests) - 20)
    sizes = [_history_tokens(body) for body in last_turns]
    assert max(sizes) <= bound
    assert min(sizes) > bound // 2  # the bound is used, not an empty history
    latest = json.dumps(last_turns[-1]["messages"])
    assert "turn 198" in latest and "turn 1," not in latest
    assert len(shown) == 400  # the page still shows every turn


def test_a_megabyte_tool_result_reaches_the_model_shortened_with_a_note(azure_service, llm):
    conversation = new_id()
    _python_turn(llm, "'x' * 1_000_000", "That is a long string.")
    output = ask_chat(azure_service, conversation, "make a long string")
    told = llm.requests[-1]["body"]["messages"][-1]

    assert len(output["steps"][0]["result"]) >= 1_000_000  # the user gets all of it
    assert told["role"] == "tool" and len(told["content"]) < 8000 + 500
    assert "characters cut here (TOOL_RESULT_MAX_CHARS)" in told["content"]
    assert json.loads(told["content"])["result"].lstrip("'").startswith("xxxx")

    _python_turn(llm, "1 + 1", "2")
    ask_chat(azure_service, conversation, "and 1 + 1?")
    later = json.dumps(llm.requests[-1]["body"]["messages"])
    assert "characters cut here" in later and len(later) < 20_000
