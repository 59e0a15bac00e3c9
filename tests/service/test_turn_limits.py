"""A turn is bounded: the agent stops after MAX_TOOL_CALLS_PER_TURN runs or TURN_TIMEOUT_SECONDS,
and says why, and the conversation carries on."""

from collections.abc import Iterator

import pytest

from tests.service.conftest import Service, azure_env, pool_env, run_service
from tests.service.helpers import ask_chat, new_id, script_code_turn
from tests.support.scripted_llm import ScriptedLLM, Text, ToolCall


@pytest.fixture(scope="module")
def limited_service(scripted_llm, session_pool, tmp_path_factory) -> Iterator[Service]:
    limits = {"MAX_TOOL_CALLS_PER_TURN": "2", "TURN_TIMEOUT_SECONDS": "3"}
    env = {**azure_env(scripted_llm), **pool_env(session_pool), **limits}
    with run_service(env, tmp_path_factory.mktemp("limited-data")) as service:
        yield service


def test_the_agent_stops_after_the_tool_call_limit_and_says_why(limited_service, llm):
    llm.reset(brain=lambda _body: ToolCall("Python_REPL", {"python_code": "n = 1\nn"}))
    llm.script(ToolCall("RouteDecision", {"route": "python"}))
    conversation = new_id()

    output = ask_chat(limited_service, conversation, "loop forever")

    assert output["route"] == "python"
    ran, blocked = output["steps"][:2], output["steps"][2:]
    assert [step["status"] for step in ran] == ["Success", "Success"]
    assert [step["status"] for step in blocked] == ["Failure"]  # the third call never ran
    assert "limit" in blocked[0]["stderr"].lower()
    assert "limit" in output["output"].lower()
    _assert_conversation_goes_on(limited_service, llm, conversation)


def test_a_turn_over_its_time_is_stopped_with_a_reason(limited_service, llm):
    conversation = new_id()
    script_code_turn(llm, "import time\ntime.sleep(30)\n'never'")

    output = ask_chat(limited_service, conversation, "sleep")

    assert "TURN_TIMEOUT_SECONDS" in output["output"]
    assert "never" not in output["output"]
    _assert_conversation_goes_on(limited_service, llm, conversation)


def _assert_conversation_goes_on(service: Service, llm: ScriptedLLM, conversation: str) -> None:
    llm.reset()
    script_code_turn(llm, "40 + 2", answer="42")
    output = ask_chat(service, conversation, "and now?")
    assert output["steps"][-1]["result"] == 42
    assert output["output"] == "42"
    llm.reset()
    llm.script(Text("unused"))
