"""The fallback for hosts without user namespaces: Landlock, seccomp, a uid per session."""

import os
import secrets
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningPool
from tests.sessionpool.conftest import GEN2, PoolClient, new_id
from tests.sessionpool.test_shutdown import alive, descendants
from tests.support.servers import ROOT, free_port, stop, wait_until_up

# Without namespaces a session's own uid must read Python where it is. Where it sits in a
# private home (pyenv under /root), the pool runs in a mount namespace in which that home
# is world-traversable and holds only the way to Python: a host with a readable Python.
READABLE_PYTHON = """
set -e
keep=$(mktemp -d)
mount --bind "$HIDDEN/$CHILD" "$keep"
mount -t tmpfs -o mode=0755,size=1m tmpfs "$HIDDEN"
mkdir "$HIDDEN/$CHILD"
mount --bind "$keep" "$HIDDEN/$CHILD"
exec "$@"
"""


def _private_ancestor() -> tuple[Path, str] | None:
    """The first folder on the way to Python that other users cannot pass, and the next step."""
    path = Path(sys.base_prefix).resolve()
    for parent in reversed(path.parents):
        if parent != Path("/") and not os.stat(parent).st_mode & stat.S_IXOTH:
            return parent, path.relative_to(parent).parts[0]
    return None


@contextmanager
def landlock_pool_process(**settings: object) -> Iterator[RunningPool]:
    port, key = free_port(), secrets.token_urlsafe(24)
    env = {**os.environ, "SESSION_POOL_API_KEY": key, "SESSION_POOL_ISOLATION": "landlock"}
    env |= {f"SESSION_POOL_{k.upper()}": str(v) for k, v in settings.items()}
    command = [sys.executable, "-m", "sessionpool", "--host", "127.0.0.1", "--port", str(port)]
    hidden = _private_ancestor()
    if hidden is not None:
        if os.geteuid() != 0:
            pytest.skip(f"Python lives under {hidden[0]}, which no session uid can read")
        env |= {"HIDDEN": str(hidden[0]), "CHILD": hidden[1]}
        command = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            READABLE_PYTHON,
            "sh",
            *command,
        ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{endpoint}/healthz", proc, timeout=120)
        yield RunningPool(endpoint, key, proc)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def landlock_pool():
    with landlock_pool_process(ready_sessions=1, max_processes=16) as pool:
        client = PoolClient(pool)
        with client.http:
            yield client


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
    assert landlock_pool.value("alive", neighbour) == "'yes'"


def test_stubborn_code_is_replaced_and_its_processes_end(landlock_pool):
    identifier = new_id()
    first = landlock_pool.run(
        "import subprocess\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN);",
        identifier,
    )
    assert first["status"] == "Success", first["stderr"]
    before = descendants(landlock_pool.pool.process.pid)
    properties = landlock_pool.run("while True:\n    pass", identifier, timeout=1)
    assert "The session was restarted" in properties["stderr"], properties["stderr"]
    assert landlock_pool.value("1 + 1", identifier) == 2
    deadline = time.monotonic() + 10
    sleepers = [p for p in before if _command(p) == "sleep"]
    assert sleepers
    while time.monotonic() < deadline and any(alive(p) for p in sleepers):
        time.sleep(0.1)
    assert [p for p in sleepers if alive(p)] == []


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as file:
            return file.read().strip()
    except OSError:
        return ""


def test_shutdown_leaves_no_process():
    with landlock_pool_process(ready_sessions=0) as pool:
        client = PoolClient(pool)
        client.run(
            "import subprocess\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)",
            new_id(),
        )
        processes = descendants(pool.process.pid)
        os.kill(pool.process.pid, signal.SIGTERM)
        pool.process.wait(30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in processes):
        time.sleep(0.1)
    assert [p for p in processes if alive(p)] == []
