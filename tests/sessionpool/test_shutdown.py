"""Stopping the pool ends every session: no process is left behind."""

import os
import signal
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
