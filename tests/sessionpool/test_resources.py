"""A session's memory is one budget: processes, copy-on-write pages, memfd, tmpfs and inodes.

A small pool (128 MiB per session, 16 processes, 64 MiB /mnt/data, 16 MiB /tmp) so that a bomb
that escaped its cgroup could not hurt the machine the tests run on.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import start_session_pool
from tests.sessionpool.conftest import (
    FILL_WITH_FILES,
    PoolClient,
    assert_neighbour_answers,
    new_id,
    start_neighbour,
)
from tests.support.servers import ROOT, free_port

OUT_OF_MEMORY = "the session ran out of memory (128 MiB in all"
TIGHT = {
    "memory_mb": 128,
    "max_processes": 16,
    "disk_mb": 64,
    "tmp_mb": 16,
    "ready_sessions": 1,
    "max_sessions": 8,
}


@pytest.fixture(scope="module")
def tight_pool():
    with start_session_pool(**TIGHT) as pool:
        client = PoolClient(pool)
        with client.http:
            yield client


@pytest.fixture
def counted(tight_pool):
    """The tight pool, where it has cgroups to count a session's memory in."""
    health = tight_pool.http.get("/healthz").json()
    if not any("cgroup" in line for line in health["bounded"]):
        pytest.skip(f"this host gives the pool no cgroups: {health['notBounded']}")
    return tight_pool


@pytest.fixture(scope="module")
def neighbour(tight_pool):
    return start_neighbour(tight_pool)


def assert_replaced_for_memory(pool: PoolClient, identifier: str, code: str) -> None:
    properties = pool.run(textwrap.dedent(code), identifier, timeout=60)
    assert properties["status"] == "Failure"
    assert "The session was restarted" in properties["stderr"], properties["stderr"]
    assert OUT_OF_MEMORY in properties["stderr"], properties["stderr"]
    assert pool.value("1 + 1", identifier) == 2


def test_memory_of_many_processes_is_one_budget(counted, neighbour):
    code = """
    import subprocess, sys, time
    hog = "b = bytearray(40 << 20)\\nimport time\\ntime.sleep(30)"
    children = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(8)]
    time.sleep(10)
    [child.poll() for child in children]
    """
    assert_replaced_for_memory(counted, new_id(), code)
    assert_neighbour_answers(counted, neighbour)


def test_memfd_pages_count(counted, neighbour):
    code = """
    import os
    files = [os.memfd_create("x") for _ in range(24)]
    for fd in files:
        os.write(fd, b"\\1" * (16 << 20))
    len(files)
    """
    assert_replaced_for_memory(counted, new_id(), code)
    assert_neighbour_answers(counted, neighbour)


def test_copy_on_write_pages_count(counted, neighbour):
    # Each child writes to every page it shares with the fork server's preloaded libraries.
    code = """
    import ctypes, os, re
    def dirty_every_shared_page():
        for line in open("/proc/self/maps"):
            found = re.match(r"([0-9a-f]+)-([0-9a-f]+) rw-p", line)
            if found and "[stack" not in line:
                for address in range(int(found[1], 16), int(found[2], 16), 4096):
                    byte = ctypes.c_char.from_address(address)
                    byte.value = byte.value
    children = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            dirty_every_shared_page()
            os._exit(0)
        children.append(pid)
    [os.waitpid(pid, 0)[1] for pid in children]
    """
    assert_replaced_for_memory(counted, new_id(), code)
    assert_neighbour_answers(counted, neighbour)


def test_tmpfs_inodes_are_capped(tight_pool, neighbour):
    """With or without cgroups: 150,000 empty files pinned 182 MiB of kernel memory."""
    identifier = new_id()
    code = FILL_WITH_FILES + '[fill(folder) for folder in ("/tmp", "/dev/shm", "/mnt/data")]'
    counts = tight_pool.value(code, identifier)
    inodes = eval(counts)
    # 64 inodes per MiB of each mount's size: /tmp and /dev/shm 16 MiB, /mnt/data 64 MiB.
    made, errors = zip(*inodes, strict=True)
    assert errors == ("ENOSPC",) * 3
    assert made[0] <= 1024 and made[1] <= 1024 and made[2] <= 4096
    assert_neighbour_answers(tight_pool, neighbour)


def test_files_in_mnt_data_count(counted, neighbour):
    assert_replaced_for_memory(
        counted,
        new_id(),
        """
        import os
        keep = bytearray(80 << 20)
        with open("/mnt/data/big", "wb") as file:
            for _ in range(60):
                file.write(b"\\1" * (1 << 20))
        """,
    )
    assert_neighbour_answers(counted, neighbour)


def test_health_says_what_bounds_a_session(counted):
    health = counted.http.get("/healthz").json()
    memory = next(line for line in health["bounded"] if line.startswith("memory:"))
    assert "128 MiB per session in all" in memory and "/dev/shm" in memory
    assert any(line.startswith("processes: 16 per session") for line in health["bounded"])


def test_a_pool_that_cannot_start_leaves_nothing_behind(tmp_path):
    """More memory per session than all sessions may have together: refused, said, cleaned."""
    env = {
        **os.environ,
        "SESSION_POOL_API_KEY": "k" * 16,
        "SESSION_POOL_MEMORY_MB": "256",
        "SESSION_POOL_TOTAL_MEMORY_MB": "128",
        "TMPDIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "sessionpool", "--port", str(free_port())]
    pool = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    _, stderr = pool.communicate(timeout=120)
    assert pool.returncode != 0
    with_cgroups = "SESSION_POOL_MEMORY_MB (256) is more than all sessions may use together"
    without = "/mnt/data, /tmp and /dev/shm (1280 MiB) do not fit in 128 MiB"
    assert with_cgroups in stderr or without in stderr, stderr
    assert list(tmp_path.iterdir()) == []
    with open("/proc/self/mountinfo") as mounts:
        cgroup_roots = [line.split()[4] for line in mounts if " - cgroup" in line]
    for root in cgroup_roots:
        assert not list(_find(root, f"sessionpool-{pool.pid}")), root


def _find(root: str, name: str):
    for directory, subdirectories, _ in os.walk(root):
        if name in subdirectories:
            yield os.path.join(directory, name)
