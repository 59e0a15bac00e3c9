"""The fallback for hosts without user namespaces: Landlock, seccomp, a uid per session."""

import errno
import os
import signal
import socket

import httpx
import pytest

from sessionpool.linux import descendants
from tests.sessionpool.conftest import (
    DAEMON,
    GEN2,
    INOTIFY,
    PoolClient,
    assert_neighbour_answers,
    new_id,
    pool_with_readable_python,
    start_neighbour,
    stop_pool_with_daemons,
    wait_until_gone,
)
from tests.support.servers import ROOT


@pytest.fixture(scope="module")
def landlock_pool():
    with pool_with_readable_python(
        isolation="landlock", ready_sessions=1, max_processes=16
    ) as pool:
        client = PoolClient(pool)
        with client.http:
            yield client


@pytest.fixture(scope="module")
def neighbour(landlock_pool):
    return start_neighbour(landlock_pool)


def test_it_runs_stateful_sessions_with_files(landlock_pool):
    health = httpx.get(f"{landlock_pool.pool.endpoint}/healthz").json()
    assert health["isolation"] == "landlock"
    identifier = new_id()
    landlock_pool.run("x = 41\nopen('out.txt', 'w').write('made here')", identifier)
    assert landlock_pool.value("x + 1", identifier) == 42
    query = {"identifier": identifier, "api-version": GEN2}
    assert landlock_pool.http.get("files/out.txt/content", params=query).content == b"made here"


def test_host_files_network_and_signals_are_out_of_reach(landlock_pool):
    pool_pid = landlock_pool.pool.process.pid
    port = landlock_pool.pool.endpoint.rsplit(":", 1)[1]
    code = f"""
import os, socket
denied = []
for attempt in (lambda: open("{ROOT}/pyproject.toml").read(),
                lambda: open("/etc/passwd").read(),
                lambda: os.listdir("/proc"),
                lambda: open("/usr/evil", "w"),
                lambda: socket.create_connection(("127.0.0.1", {port}), timeout=1),
                lambda: os.kill({pool_pid}, 0),
                lambda: os.kill(1, 0)):
    try:
        attempt()
    except OSError:
        denied.append(True)
(len(denied), os.getuid() != 0, "SESSION_POOL_API_KEY" in os.environ)
"""
    assert landlock_pool.value(code, new_id()) == "(7, True, False)"


def test_a_fork_bomb_is_contained_and_neighbours_answer(landlock_pool):
    neighbour = new_id()
    landlock_pool.run("alive = 'yes'", neighbour)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    properties = landlock_pool.run(bomb, new_id(), timeout=2)
    assert properties["status"] == "Failure"
    assert landlock_pool.value("alive", neighbour) == "yes"


def test_stubborn_code_is_replaced_and_its_processes_end(landlock_pool):
    identifier = new_id()
    first = landlock_pool.run(
        DAEMON + "\nimport signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN);",
        identifier,
    )
    assert first["status"] == "Success", first["stderr"]
    before = descendants(landlock_pool.pool.process.pid)
    properties = landlock_pool.run("while True:\n    pass", identifier, timeout=1)
    assert "The session was restarted" in properties["stderr"], properties["stderr"]
    assert landlock_pool.value("1 + 1", identifier) == 2
    sleepers = [p for p in before if _command(p) == "sleep"]
    assert sleepers and wait_until_gone(sleepers) == []


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as file:
            return file.read().strip()
    except OSError:
        return ""


def test_shutdown_leaves_no_process():
    with pool_with_readable_python(isolation="landlock", ready_sessions=0) as pool:
        assert stop_pool_with_daemons(pool, sessions=1, signum=signal.SIGTERM) == []


def test_host_unix_sockets_are_out_of_reach(landlock_pool, neighbour, tmp_path):
    """A 0666 socket in a folder anyone may pass, as D-Bus has: Landlock does not cover
    connect(), so the filter refuses it, and datagram sockets, to every session here."""
    folder = tmp_path / "bus"
    folder.mkdir()
    folder.chmod(0o755)
    tmp_path.chmod(0o755)
    stream, datagram = str(folder / "stream"), str(folder / "datagram")
    with (
        socket.socket(socket.AF_UNIX) as server,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sink,
    ):
        server.bind(stream)
        sink.bind(datagram)
        for path in (stream, datagram):
            os.chmod(path, 0o666)
        server.listen()
        server.setblocking(False)
        sink.setblocking(False)
        code = f"""
import multiprocessing, socket
outcomes = []
for attempt in (lambda: socket.socket(socket.AF_UNIX).connect({stream!r}),
                lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM),
                lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)):
    try:
        attempt()
        outcomes.append("reached")
    except PermissionError:
        outcomes.append("refused")
left, right = socket.socketpair()
left.sendall(b"ok")
reader, writer = multiprocessing.Pipe()
writer.send("piped")
(outcomes, right.recv(2), reader.recv())
"""
        assert landlock_pool.value(code, new_id()) == (
            "(['refused', 'refused', 'refused'], b'ok', 'piped')"
        )
        with pytest.raises(BlockingIOError):
            server.accept()
        with pytest.raises(BlockingIOError):
            sink.recv(1)
    assert_neighbour_answers(landlock_pool, neighbour)


def test_inotify_is_denied(landlock_pool, neighbour):
    assert landlock_pool.value(INOTIFY, new_id()) == f"(-1, {errno.EPERM})"
    assert_neighbour_answers(landlock_pool, neighbour)


def test_what_this_tier_cannot_hide_is_said(landlock_pool):
    health = httpx.get(f"{landlock_pool.pool.endpoint}/healthz").json()
    assert any("connect()" in layer for layer in health["layers"])
    gaps = " ".join(health["missingLayers"])
    assert "host processes" in gaps and "host paths" in gaps and "disk quota" in gaps
