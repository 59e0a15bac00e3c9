"""Stopping the pool ends every session: no process is left behind."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from sessionpool.linux import descendants
from tests.conftest import start_session_pool
from tests.sessionpool.conftest import (
    PoolClient,
    new_id,
    stop_pool_with_daemons,
    wait_until_gone,
)
from tests.support.servers import ROOT, free_port


def test_shutdown_ends_every_session_and_daemon():
    with start_session_pool(ready_sessions=1) as pool:
        assert stop_pool_with_daemons(pool, sessions=3, signum=signal.SIGTERM) == []


def test_a_killed_pool_leaves_no_session_behind():
    with start_session_pool(ready_sessions=1) as pool:
        assert stop_pool_with_daemons(pool, sessions=1, signum=signal.SIGKILL) == []


def test_a_running_call_ends_at_once_when_the_pool_stops():
    with start_session_pool(ready_sessions=1) as pool:
        client = PoolClient(pool)
        with client.http:
            identifier = new_id()
            client.run("1", identifier)
            results = {}
            call = threading.Thread(
                target=lambda: results.update(
                    client.run("import time\ntime.sleep(600)", identifier)
                )
            )
            call.start()
            while not httpx.get(f"{pool.endpoint}/healthz").json()["sessions"]["busy"]:
                time.sleep(0.05)
            processes = descendants(pool.process.pid)
            os.kill(pool.process.pid, signal.SIGTERM)
            # Far below the call's 600 s; uvicorn re-raises the signal it stopped on.
            assert pool.process.wait(timeout=60) == -signal.SIGTERM
            call.join(60)
            assert results["status"] == "Failure", results
            assert "The pool stopped during this call" in results["stderr"]
            assert wait_until_gone(processes) == []


def test_a_pool_stopped_while_it_starts_says_what_ended_its_fork_server():
    """Its process group told to stop, the fork server dies of the signal without a word:
    the pool's error names the signal, not just a closed channel."""
    args = ["-m", "sessionpool", "--host", "127.0.0.1", "--port", str(free_port())]
    env = {**os.environ, "SESSION_POOL_API_KEY": "k" * 16}
    pool = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        while not any(b"sessionpool.zygote" in _cmdline(pid) for pid in descendants(pool.pid)):
            assert pool.poll() is None, "the pool exited before its fork server started"
            time.sleep(0.05)
        os.killpg(pool.pid, signal.SIGTERM)  # long before the data stack is loaded
        _, stderr = pool.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pool.pid, signal.SIGKILL)
        pool.wait()
    ended = "the fork server did not start: it was killed by signal 15 (Terminated)"
    assert ended in stderr.decode()


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read()
    except OSError:
        return b""
