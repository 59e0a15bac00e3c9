"""Faults are reported, never hung on: a malformed tool call, an expired code session, and the
service killed in the middle of a turn."""

import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import start_session_pool
from tests.service.conftest import Service, azure_env, pool_env, run_service
from tests.service.helpers import ask_chat, config, new_id, script_code_turn
from tests.support.scripted_llm import Text, ToolCall, arithmetic_brain

COOLDOWN_SECONDS = 2


@pytest.fixture(scope="module")
def forgetful_service(scripted_llm, tmp_path_factory) -> Iterator[Service]:
    """The service on a pool that forgets a session after two idle seconds."""
    with start_session_pool(cooldown_seconds=COOLDOWN_SECONDS) as pool:
        env = {**azure_env(scripted_llm), **pool_env(pool)}
        with run_service(env, tmp_path_factory.mktemp("forgetful-data")) as service:
            yield service


def test_a_malformed_tool_call_is_reported_to_the_model_and_the_turn_ends(forgetful_service, llm):
    llm.script(
        ToolCall("RouteDecision", {"route": "python"}),
        ToolCall("Python_REPL", {"code_please": "1 + 1"}),  # not the tool's argument
        Text("I could not run that."),
    )
    output = ask_chat(forgetful_service, new_id(), "add one and one")

    assert output["steps"][0]["status"] == "Failure"
    assert "python_code" in output["steps"][0]["stderr"]
    assert output["output"] == "I could not run that."
    told = llm.requests[-1]["body"]["messages"][-1]
    assert told["role"] == "tool" and "python_code" in told["content"]


def test_an_expired_session_is_told_to_the_agent_which_carries_on(forgetful_service, llm):
    conversation = new_id()
    script_code_turn(llm, "x = 41\nx")
    assert ask_chat(forgetful_service, conversation, "set x")["steps"][0]["result"] == 41

    time.sleep(COOLDOWN_SECONDS * 3)  # idle past the pool's cooldown
    script_code_turn(llm, "x = 41 if 'x' not in globals() else x\nx + 1", answer="42")
    output = ask_chat(forgetful_service, conversation, "add one to x")

    assert output["steps"][0]["result"] == 42
    told = llm.requests[-1]["body"]["messages"][-1]
    assert told["role"] == "tool" and "session expired" in told["content"]


def test_a_service_killed_mid_turn_restarts_with_its_history(
    scripted_llm, llm, session_pool, tmp_path
):
    env = {**azure_env(scripted_llm), **pool_env(session_pool)}
    conversation = new_id()
    with run_service(env, tmp_path) as service:
        script_code_turn(llm, "kept = 21175\nkept", answer="21175")
        assert ask_chat(service, conversation, "What is 25 * 847?")["output"] == "21175"

        script_code_turn(llm, "import time\ntime.sleep(30)")
        started = threading.Event()
        turn = threading.Thread(target=_stream_until_killed, args=(service, conversation, started))
        turn.start()
        assert started.wait(60), "the code step never started"
        os.kill(service.proc.pid, signal.SIGKILL)
        turn.join(60)

    llm.reset(arithmetic_brain)  # the killed turn's final answer was never asked for
    with run_service(env, tmp_path) as restarted:
        with restarted.http() as http:
            messages = http.get(f"/conversations/{conversation}").json()["messages"]
        script_code_turn(llm, "kept ** 0.5", answer="145.51")
        follow_up = ask_chat(restarted, conversation, "What's the square root of that?")

    assert [m["content"] for m in messages[:2]] == ["What is 25 * 847?", "21175"]
    assert follow_up["steps"][0]["result"] == pytest.approx(145.516, abs=1e-3)


def _stream_until_killed(service: Service, conversation: str, started: threading.Event) -> None:
    body = {"input": {"message": "sleep"}, "config": config(conversation)}
    try:
        with httpx.stream("POST", f"{service.url}/chat/stream", json=body, timeout=60) as response:
            for line in response.iter_lines():
                if '"running"' in line:
                    started.set()
    except httpx.HTTPError:
        pass  # the service died under the stream, as intended
