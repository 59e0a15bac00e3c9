"""Stopping the pool ends every session: no process is left behind."""

import signal

from tests.conftest import start_session_pool
from tests.sessionpool.conftest import stop_pool_with_daemons


def test_shutdown_ends_every_session_and_daemon():
    with start_session_pool(ready_sessions=1) as pool:
        assert stop_pool_with_daemons(pool, sessions=3, signum=signal.SIGTERM) == []


def test_a_killed_pool_leaves_no_session_behind():
    with start_session_pool(ready_sessions=1) as pool:
        assert stop_pool_with_daemons(pool, sessions=1, signum=signal.SIGKILL) == []
