"""`make run` on several workers: one local pool started once, one store, and a conversation
that continues, and code that is interrupted, whichever worker serves each request.

Each request is sent on a connection that a chosen worker accepted (found from /proc: which
worker holds the server side of the connection), so the test knows it crossed workers.
"""

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import Service
from tests.service.helpers import config, new_id, pool_pid, script_code_turn
from tests.support.scripted_llm import ToolCall
from tests.support.servers import running_service
from tools.pool_client import RESET_NOTE

WORKERS = 2
MCP_2025 = "2025-06-18"  # a protocol version of the initialize handshake


@pytest.fixture(scope="module")
def two_workers(scripted_llm, tmp_path_factory) -> Iterator[Service]:
    env = {
        "OPENAI_BASE_URL": scripted_llm.openai_base_url,
        "OPENAI_API_KEY": "scripted",
        "WORKERS": str(WORKERS),
    }
    data_dir = tmp_path_factory.mktemp("workers")
    # Each worker imports the whole service, after the pool has started: slow on a busy host.
    with running_service({"LLM_MAX_RETRIES": "1", **env}, data_dir, timeout=300) as (url, proc):
        yield Service(url, proc)


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _workers(service: Service) -> list[int]:
    """The uvicorn workers: the launcher's processes started by multiprocessing's spawn."""
    return [pid for pid in _children(service.proc.pid) if "spawn_main" in _command(pid)]


def _socket_inode(client_port: int, server_port: int) -> str:
    """The inode of the server's side of the loopback connection from `client_port`."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
        if local == server_port and remote == client_port:
            return f"socket:[{fields[9]}]"
    raise AssertionError(f"no server socket for the connection from port {client_port}")


def _holder(inode: str, pids: list[int]) -> int | None:
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if fd.readlink().as_posix() == inode:
                    return pid
            except FileNotFoundError:
                continue
    return None


@contextmanager
def connection_to(service: Service, worker: int) -> Iterator[httpx.Client]:
    """A client whose one kept-alive connection `worker` accepted (once it has started)."""
    server_port = int(service.url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        client = httpx.Client(
            base_url=service.url, timeout=90, limits=httpx.Limits(max_connections=1)
        )
        response = client.get("/healthz")
        client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        if _holder(_socket_inode(client_port, server_port), [worker]) == worker:
            try:
                yield client
            finally:
                client.close()
            return
        client.close()
    raise AssertionError(f"worker {worker} accepted no connection in 300 s")


def test_make_run_starts_the_workers_and_one_pool(two_workers):
    started = [_command(pid) for pid in _children(two_workers.proc.pid)]
    pools = [command for command in started if "-m sessionpool --host" in command]

    assert len(_workers(two_workers)) == WORKERS
    assert len(pools) == 1
    # ...started by the launcher, not by a worker.
    assert not [pid for w in _workers(two_workers) for pid in _children(w)]


def test_a_conversation_continues_on_the_other_worker(two_workers, llm):
    first, second = _workers(two_workers)
    conversation = new_id()
    with connection_to(two_workers, first) as one, connection_to(two_workers, second) as other:
        script_code_turn(llm, "kept = 6 * 7\nkept", "It is 42.")
        turn = one.post(
            "/chat/invoke", json={"input": {"message": "6 * 7?"}, "config": config(conversation)}
        )
        script_code_turn(llm, "kept + 1", "And 43.")
        follow_up = other.post(
            "/chat/invoke", json={"input": {"message": "plus 1?"}, "config": config(conversation)}
        )
        history = one.get(f"/conversations/{conversation}").json()

    assert turn.json()["output"]["steps"][0]["result"] == 42
    # The other worker's code ran in the same session: the variable was there.
    assert follow_up.json()["output"]["steps"][0]["result"] == 43
    # ...and its model call was shown the first worker's turn.
    assert "It is 42." in str(llm.requests[-1]["body"]["messages"])
    assert [m["content"] for m in history["messages"]] == [
        "6 * 7?",
        "It is 42.",
        "plus 1?",
        "And 43.",
    ]


def test_an_interrupt_on_the_other_worker_stops_the_code(two_workers, llm):
    first, second = _workers(two_workers)
    conversation = new_id()
    script_code_turn(llm, "import time\ntime.sleep(60)", "Stopped.")
    answers = {}
    with connection_to(two_workers, first) as one, connection_to(two_workers, second) as other:

        def run() -> None:
            body = {"input": {"message": "sleep"}, "config": config(conversation)}
            answers["turn"] = one.post("/chat/invoke", json=body).json()["output"]

        turn = threading.Thread(target=run)
        turn.start()
        # Until the code runs, an interrupt finds nothing to stop; so ask until the turn ends.
        while turn.is_alive():
            assert other.post(f"/conversations/{conversation}/interrupt").status_code == 204
            turn.join(0.2)

    step = answers["turn"]["steps"][0]
    assert step["status"] == "Failure" and "KeyboardInterrupt" in step["stderr"]


def test_a_restart_of_the_shared_pool_is_told_to_the_model_by_either_worker(two_workers, llm):
    """The pool dies (its supervisor in `python -m serve` starts it again): each worker waits
    for it, runs the next code in the conversation's new session, and tells the model that the
    variables are gone (each saw the answers come from another pool process)."""
    first, second = _workers(two_workers)
    conversation = new_id()

    def turn(client: httpx.Client, message: str) -> dict:
        body = {"input": {"message": message}, "config": config(conversation)}
        response = client.post("/chat/invoke", json=body)
        assert response.status_code == 200, response.text
        return response.json()["output"]

    with connection_to(two_workers, first) as one, connection_to(two_workers, second) as other:
        script_code_turn(llm, "kept = 6 * 7\nkept", "It is 42.")
        turn(one, "6 * 7?")
        script_code_turn(llm, "kept + 1", "And 43.")
        turn(other, "plus 1?")
        os.killpg(pool_pid(two_workers.proc.pid), signal.SIGKILL)
        told = []
        for client in (one, other):
            script_code_turn(llm, "1 + 1", "Two.")
            assert turn(client, "1 + 1?")["steps"][0]["result"] == 2
            told.append(RESET_NOTE in str(llm.requests[-1]["body"]["messages"]))

    assert told == [True, True]


def test_saves_of_one_conversation_on_two_workers_keep_both_turns(two_workers, llm):
    """Two turns of one conversation at once, one per worker: each save waits for the
    other's (a lock across processes), so neither turn is lost."""
    first, second = _workers(two_workers)
    llm.script(
        ToolCall("RouteDecision", {"route": "chat"}), ToolCall("RouteDecision", {"route": "chat"})
    )
    conversations = [new_id() for _ in range(5)]
    with connection_to(two_workers, first) as one, connection_to(two_workers, second) as other:
        for conversation in conversations:
            threads = [
                threading.Thread(
                    target=client.post,
                    args=("/chat/invoke",),
                    kwargs={"json": {"input": {"message": text}, "config": config(conversation)}},
                )
                for client, text in ((one, "from one"), (other, "from other"))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        histories = [one.get(f"/conversations/{c}").json()["messages"] for c in conversations]

    for messages in histories:
        said = sorted(m["content"] for m in messages if m["role"] == "user")
        assert said == ["from one", "from other"]
        assert len(messages) == 4


def _mcp_call(client: httpx.Client, message: dict, session_id: str | None) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MCP_2025}
    if session_id:
        headers["Mcp-Session-Id"] = session_id
    return client.post("/mcp", json={"jsonrpc": "2.0", **message}, headers=headers)


def _mcp_result(response: httpx.Response) -> dict:
    """The JSON-RPC answer, sent as JSON or as the one event of an SSE stream."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])["result"]
    return response.json()["result"]


def test_an_mcp_handshake_made_on_one_worker_holds_on_the_other(two_workers):
    """The initialize handshake on one worker, the tool call on the other: MCP sessions are
    not kept in a worker (the server is stateless with several), so the call is served."""
    first, second = _workers(two_workers)
    initialize = {
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": MCP_2025,
            "capabilities": {},
            "clientInfo": {"name": "handshake-test", "version": "1"},
        },
    }
    call = {
        "id": 2,
        "method": "tools/call",
        "params": {"name": "run_python", "arguments": {"code": "6 * 7"}},
    }
    with connection_to(two_workers, first) as one, connection_to(two_workers, second) as other:
        opened = _mcp_call(one, initialize, None)
        session_id = opened.headers.get("mcp-session-id")
        assert _mcp_result(opened)["protocolVersion"] == MCP_2025
        initialized = {"method": "notifications/initialized"}
        assert _mcp_call(other, initialized, session_id).status_code == 202
        result = _mcp_result(_mcp_call(other, call, session_id))

    assert result["structuredContent"]["result"] == 42 and not result.get("isError")
