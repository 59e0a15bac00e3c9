"""Faults are reported, never hung on: a malformed tool call, an expired code session, the
session pool killed during a call, and the service killed in the middle of a turn."""

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from errors import PoolUnavailable
from tests.conftest import start_session_pool
from tests.service.conftest import Service, azure_env, pool_env, run_service
from tests.service.helpers import ask_chat, config, new_id, pool_pid, script_code_turn
from tests.support.scripted_llm import Text, ToolCall, arithmetic_brain
from tools.local_pool import LocalSessionPool

COOLDOWN_SECONDS = 2


@pytest.fixture(scope="module")
def forgetful_service(scripted_llm, tmp_path_factory) -> Iterator[Service]:
    """The service on a pool that forgets a session after two idle seconds."""
    with start_session_pool(cooldown_seconds=COOLDOWN_SECONDS) as pool:
        # The service is told the pool's cooldown, as the Bicep template tells it Azure's.
        cooldown = {"SESSION_POOL_COOLDOWN_SECONDS": str(COOLDOWN_SECONDS)}
        env = {**azure_env(scripted_llm), **pool_env(pool), **cooldown}
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


def test_a_pool_killed_during_a_call_is_reported_and_replaced(scripted_llm, llm, tmp_path):
    with run_service(azure_env(scripted_llm), tmp_path) as service:  # it supervises its pool
        conversation = new_id()
        code = "open('started', 'w').close()\nimport time\ntime.sleep(30)"
        script_code_turn(llm, code, answer="The run was cut short.")
        started = threading.Event()
        result: dict = {}
        turn = threading.Thread(
            target=_ask_when_started, args=(service, conversation, started, result)
        )
        turn.start()
        assert started.wait(60), "the code never started"
        _wait_for_a_file(service, conversation)  # the step is announced before the code runs
        os.killpg(pool_pid(service.proc.pid), signal.SIGKILL)
        turn.join(90)

        script_code_turn(llm, "6 * 7", answer="42")
        after = ask_chat(service, conversation, "What is 6 * 7?")

    step = result["output"]["steps"][0]
    assert (
        step["status"] == "Failure" and "connection to the code session was lost" in step["stderr"]
    )
    assert result["output"]["output"] == "The run was cut short."
    assert after["steps"][0]["result"] == 42


def _wait_for_a_file(service, conversation: str) -> None:
    with service.http() as http:
        while not http.get(f"/conversations/{conversation}/files").json()["files"]:
            time.sleep(0.05)


def _ask_when_started(service, conversation: str, started: threading.Event, result: dict) -> None:
    """Stream one turn, flag when its code starts, keep the output the chunks add up to."""
    body = {"input": {"message": "sleep"}, "config": config(conversation)}
    steps: dict[int, dict] = {}
    output = ""
    with httpx.stream("POST", f"{service.url}/chat/stream", json=body, timeout=90) as response:
        for line in response.iter_lines():
            if not line.startswith("data:") or line == "data: ":
                continue
            chunk = json.loads(line.removeprefix("data:"))
            if not isinstance(chunk, dict):
                continue
            for step in chunk.get("steps") or []:
                steps.setdefault(step["index"], {}).update(step)
                started.set()
            output += chunk.get("output") or ""
    result["output"] = {"steps": [steps[i] for i in sorted(steps)], "output": output}


def test_a_restarting_pool_is_waited_for_while_it_starts():
    """The pool's data stack takes half a minute to load on a busy host: a caller whose
    deadline passes while the replacement is still starting waits for it, not a 503."""
    asyncio.run(_recover_from_a_killed_pool())


async def _recover_from_a_killed_pool() -> None:
    pool = LocalSessionPool()
    await pool.start()
    try:
        killed = pool.pid
        os.killpg(killed, signal.SIGKILL)
        while pool.pid == killed:  # the supervisor has started the replacement
            await asyncio.sleep(0.05)
        await pool.recover(timeout=0)  # past the deadline at once, yet the start is awaited
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{pool.endpoint}healthz")).status_code == 200
    finally:
        await pool.stop()


def test_a_local_pool_that_cannot_start_says_so(monkeypatch):
    """A pool that exits at start (here: a setting it cannot read) is reported with its exit
    status at once, not waited for until the start times out."""
    monkeypatch.setenv("SESSION_POOL_MEMORY_MB", "lots")
    pool = LocalSessionPool()
    with pytest.raises(PoolUnavailable, match=r"the local session pool exited \(2\)"):
        asyncio.run(pool.start())
