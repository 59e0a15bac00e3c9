"""Helpers for the pool's suites: an authenticated HTTP client and a code runner."""

import os
import secrets
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from sessionpool.linux import descendants
from tests.conftest import RunningPool, start_session_pool
from tests.support.servers import ROOT, free_port, stop, wait_until_up

GEN1 = "2024-02-02-preview"
GEN2 = "2025-02-02-preview"


class PoolClient:
    """Raw HTTP against a running pool, with its key."""

    def __init__(self, pool: RunningPool) -> None:
        self.pool = pool
        self.http = httpx.Client(
            base_url=pool.endpoint,
            headers={"Authorization": f"Bearer {pool.api_key}"},
            timeout=60,
        )

    def run(self, code: str, identifier: str, timeout: float | None = None, **extra) -> dict:
        """`code/execute` (generation 1); returns the `properties`."""
        properties = {"codeInputType": "inline", "executionType": "synchronous", "code": code}
        if timeout is not None:
            properties["timeoutInSeconds"] = timeout
        properties |= extra
        response = self.http.post(
            "/code/execute",
            params={"identifier": identifier, "api-version": GEN1},
            json={"properties": properties},
        )
        assert response.status_code == 200, response.text
        return response.json()["properties"]

    def value(self, code: str, identifier: str, **kwargs) -> object:
        properties = self.run(code, identifier, **kwargs)
        assert properties["status"] == "Success", properties["stderr"]
        return properties["result"]


def new_id() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


# Code defining write_frame(body): a frame on the kernel's channel to the pool, as code can.
WRITE_FRAME = """
import json, os, struct
def write_frame(body: bytes) -> None:
    os.write(3, struct.pack("!I", len(body)) + body)
"""
# Code defining current_request(): the request the kernel is answering, from its own frames
# (what a forger would copy).
FIND_REQUEST = """
import sys
def current_request() -> dict:
    frame = sys._getframe()
    while frame is not None:
        for value in frame.f_locals.values():
            if isinstance(value, dict) and value.get("op") == "execute" and "id" in value:
                return value
        frame = frame.f_back
    raise LookupError("no request in the kernel's frames")
"""


def forged_answer(fields: str, then: str = "") -> str:
    """Code that writes the answer to the request it runs in itself (`fields`: Python source
    of the answer's fields besides its number), then runs `then`."""
    answer = f"{{'id': current_request()['id'], {fields}}}"
    return f"{WRITE_FRAME}{FIND_REQUEST}write_frame(json.dumps({answer}).encode())\n{then}"


# Code defining fill(folder): empty files until one more is refused; (files made, errno name).
FILL_WITH_FILES = """
import errno
def fill(folder):
    made = 0
    try:
        while True:
            open(f"{folder}/f{made}", "w").close()
            made += 1
    except OSError as error:
        return made, errno.errorcode[error.errno]
"""

# Code trying inotify 200 times, answering how the last try went: inotify would show which
# files of the shared Python a neighbour opens, and its instances are counted per host user
# (128 by default), so one session could take them all.
INOTIFY = (
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "[(libc.inotify_init1(0), ctypes.get_errno()) for _ in range(200)][-1]"
)


def start_neighbour(pool: PoolClient) -> str:
    """A session that must keep its state and answer through an attack on another."""
    identifier = new_id()
    pool.run("alive = 'yes'", identifier)
    return identifier


def assert_neighbour_answers(pool: PoolClient, neighbour: str) -> None:
    """Within a second, by the pool's own deadline, and with its state."""
    assert pool.value("alive", neighbour, timeout=1) == "yes"
    assert pool.value("1 + 1", neighbour, timeout=1) == 2


@pytest.fixture(scope="session")
def client(session_pool) -> Iterator[PoolClient]:
    pool_client = PoolClient(session_pool)
    with pool_client.http:
        yield pool_client


@pytest.fixture(scope="module")
def neighbour(client) -> str:
    """A session of the shared pool that must keep its state through a module's attacks."""
    return start_neighbour(client)


@pytest.fixture(scope="module")
def small_pool() -> Iterator[PoolClient]:
    """A second pool with short, tight settings, for expiry, the cap and the quotas."""
    settings = {
        "cooldown_seconds": 2,
        "max_sessions": 3,
        "ready_sessions": 1,
        "disk_mb": 8,
        "tmp_mb": 8,
        "memory_mb": 256,
        "max_processes": 16,
        "timeout_seconds": 5,
        "interrupt_grace_seconds": 1,
        "output_max_length": 100,
        "max_code_bytes": 1000,
        "max_upload_mb": 1,
    }
    with start_session_pool(**settings) as pool:
        pool_client = PoolClient(pool)
        with pool_client.http:
            yield pool_client


# A pool run by an ordinary user must read its Python (pyenv under /root here) and its checkout
# (a clone may sit in a private 0700 folder, as `mktemp -d` makes and as home folders are).
# Where a folder on the way is private, the pool runs in a mount namespace in which that folder
# is world-traversable and holds only the way on: a host where both are readable, as a laptop
# or a container image has. Folders are opened outermost first, each inside the last.
READABLE_WAY = """
set -e
keep=$(mktemp -d)
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  hidden=$1; child=$2; shift 2
  mkdir "$keep/x"; mount --bind "$hidden/$child" "$keep/x"
  mount -t tmpfs -o mode=0755,size=1m tmpfs "$hidden"
  mkdir "$hidden/$child"; mount --bind "$keep/x" "$hidden/$child"; umount "$keep/x"; rmdir "$keep/x"
done
shift
exec "$@"
"""


def private_ancestors(*paths: Path) -> list[tuple[Path, str]]:
    """Each folder on the way to `paths` that other users cannot pass, and the next step."""
    found = []
    for path in (p.resolve() for p in paths):
        for parent in reversed(path.parents):
            private = parent != Path("/") and not os.stat(parent).st_mode & stat.S_IXOTH
            step = (parent, path.relative_to(parent).parts[0])
            if private and step not in found:
                found.append(step)
    return sorted(found, key=lambda step: len(step[0].parts))


@contextmanager
def pool_with_readable_python(
    as_user: str = "", checkout: Path = ROOT, **settings: object
) -> Iterator[RunningPool]:
    """A pool on a host whose Python and `checkout` every user can read; `as_user` runs it as
    that uid:gid, from `checkout`."""
    port, key = free_port(), secrets.token_urlsafe(24)
    env = {**os.environ, "SESSION_POOL_API_KEY": key}
    env |= {f"SESSION_POOL_{k.upper()}": str(v) for k, v in settings.items()}
    command = [sys.executable, "-m", "sessionpool", "--host", "127.0.0.1", "--port", str(port)]
    if as_user:
        uid, gid = as_user.split(":")
        command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *command]
        hidden = private_ancestors(Path(sys.base_prefix), Path(sys.prefix), checkout)
        if hidden and os.geteuid() != 0:
            pytest.skip(f"{hidden[0][0]} is private: only root can let another user through")
        if hidden:
            way = [str(part) for step in hidden for part in step]
            unshare = ["unshare", "--mount", "--propagation", "private"]
            command = [*unshare, "sh", "-c", READABLE_WAY, "sh", *way, "--", *command]
    proc = subprocess.Popen(command, cwd=checkout, env=env, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{endpoint}/healthz", proc, timeout=120)
        yield RunningPool(endpoint, key, proc)
    finally:
        stop(proc)


DAEMON = "import subprocess\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until_gone(processes: list[int], timeout: float = 10) -> list[int]:
    """The processes still alive after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in processes):
        time.sleep(0.1)
    return [p for p in processes if alive(p)]


def stop_pool_with_daemons(pool: RunningPool, sessions: int, signum: int) -> list[int]:
    """Start a detached daemon in each of `sessions` sessions, stop the pool with `signum`;
    returns what the pool ran and left alive (the assertion is that this is empty)."""
    client = PoolClient(pool)
    with client.http:
        for _ in range(sessions):
            client.run(DAEMON, new_id())
    processes = descendants(pool.process.pid)
    assert len(processes) >= 1 + 3 * sessions  # fork server; init, kernel and daemon each
    os.kill(pool.process.pid, signum)
    pool.process.wait(30)
    return wait_until_gone(processes)
