"""Stopping the pool ends every session: no process is left behind."""

import os
import signal
import time

from sessionpool.linux import descendants
from tests.conftest import start_session_pool
from tests.sessionpool.conftest import PoolClient, new_id


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_shutdown_ends_every_session_and_daemon():
    with start_session_pool(ready_sessions=1) as pool:
        client = PoolClient(pool)
        for _ in range(3):
            identifier = new_id()
            client.run(
                "import subprocess\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)",
                identifier,
            )
        processes = descendants(pool.process.pid)
        assert len(processes) >= 1 + 3 * 3  # fork server, and init + kernel + daemon each
        pool.process.send_signal(signal.SIGTERM)
        pool.process.wait(30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in processes):
        time.sleep(0.1)
    assert [p for p in processes if alive(p)] == []


def test_a_killed_pool_leaves_no_session_behind():
    with start_session_pool(ready_sessions=1) as pool:
        client = PoolClient(pool)
        client.run(
            "import subprocess\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)",
            new_id(),
        )
        processes = descendants(pool.process.pid)
        os.kill(pool.process.pid, signal.SIGKILL)
        pool.process.wait(30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in processes):
            time.sleep(0.1)
        assert [p for p in processes if alive(p)] == []
