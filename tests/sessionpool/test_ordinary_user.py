"""The pool run by an ordinary user (a laptop, a container image) isolates sessions too."""

import os
import signal

import httpx
import pytest

from tests.sessionpool.conftest import (
    PoolClient,
    new_id,
    pool_with_readable_python,
    stop_pool_with_daemons,
)

NOBODY = "65534:65534"


def ordinary_user() -> str:
    """As root, the pool becomes nobody; run by an ordinary user, it stays that user."""
    return NOBODY if os.geteuid() == 0 else ""


@pytest.fixture(scope="module")
def user_pool():
    with pool_with_readable_python(
        as_user=ordinary_user(), ready_sessions=1, max_processes=16
    ) as pool:
        client = PoolClient(pool)
        with client.http:
            yield client


def test_sessions_are_isolated_under_an_ordinary_user(user_pool):
    identifier = new_id()
    user_pool.run("x = 2", identifier)
    pool_pid = user_pool.pool.process.pid
    code = f"""
import os, socket
try:
    os.kill({pool_pid}, 0)
    pool = "visible"
except ProcessLookupError:
    pool = "invisible"
try:
    socket.socket(socket.AF_INET)
    net = "open"
except OSError:
    net = "closed"
(x * 21, os.getuid(), pool, net, sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
"""
    assert user_pool.value(code, identifier) == "(42, 1000, 'invisible', 'closed', [1, 2])"


def test_a_fork_bomb_is_contained_under_an_ordinary_user(user_pool):
    neighbour = new_id()
    user_pool.run("alive = 'yes'", neighbour)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    assert user_pool.run(bomb, new_id(), timeout=2)["status"] == "Failure"
    assert user_pool.value("alive", neighbour) == "yes"


def test_shutdown_under_an_ordinary_user_leaves_nothing():
    with pool_with_readable_python(as_user=ordinary_user(), ready_sessions=1) as pool:
        assert stop_pool_with_daemons(pool, sessions=1, signum=signal.SIGTERM) == []


def test_without_cgroups_the_pool_says_so_and_fits_its_tmpfs_in_memory(user_pool):
    health = httpx.get(f"{user_pool.pool.endpoint}/healthz").json()
    if any("cgroup" in line for line in health["bounded"]):
        pytest.skip("this host delegates cgroups to an ordinary user")
    assert any("no cgroups" in line for line in health["notBounded"]), health
    memory = next(line for line in health["bounded"] if line.startswith("memory:"))
    assert "per process, not per session" in memory and "memfd" in memory
    with open("/proc/meminfo") as meminfo:
        total = int(meminfo.readline().split()[1]) * 1024
    per_session = (1024 + 2 * 128) * 1024 * 1024  # /mnt/data, /tmp, /dev/shm at the defaults
    assert health["maxSessions"] * per_session <= total * 3 // 4


def test_a_folder_the_code_locked_is_a_conflict_not_a_500(user_pool):
    """The pool's user is the sessions' user here: code can lock it out of /mnt/data."""
    identifier = new_id()
    user_pool.run(
        "import os\nopen('/mnt/data/a.txt', 'w').write('a')\nos.chmod('/mnt/data', 0)", identifier
    )
    query = {"identifier": identifier, "api-version": "2025-02-02-preview"}
    listing = user_pool.http.get("files", params=query)
    upload = user_pool.http.post("files", params=query, files={"file": ("b.txt", b"b")})
    download = user_pool.http.get("files/a.txt/content", params=query)
    assert (listing.status_code, upload.status_code, download.status_code) == (409, 409, 409)
    assert listing.json()["error"]["code"] == "FileNotAccessible"
    user_pool.run("import os\nos.chmod('/mnt/data', 0o700)", identifier)
    assert user_pool.http.get("files", params=query).status_code == 200
