"""Fixtures shared by every suite: real servers on 127.0.0.1."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from subprocess import Popen

import pytest

from tests.support.servers import free_port, running_server


@dataclass
class RunningPool:
    """A local session pool started as a child process."""

    endpoint: str
    api_key: str
    process: Popen


@contextmanager
def start_session_pool(**settings: object) -> Iterator[RunningPool]:
    """`python -m sessionpool` on a free port with a random key; `settings` are SESSION_POOL_*."""
    port = free_port()
    key = secrets.token_urlsafe(32)
    env = {f"SESSION_POOL_{name.upper()}": str(value) for name, value in settings.items()}
    env["SESSION_POOL_API_KEY"] = key
    endpoint = f"http://127.0.0.1:{port}"
    args = ["-m", "sessionpool", "--host", "127.0.0.1", "--port", str(port)]
    with running_server(args, f"{endpoint}/healthz", env=env, timeout=120) as process:
        yield RunningPool(endpoint, key, process)


@pytest.fixture(scope="session")
def session_pool() -> Iterator[RunningPool]:
    """The real local pool, shared by the whole test session: `.endpoint`, `.api_key`.

    Every suite's conversations land here and live for the default cooldown, so the cap is
    raised above the default 100 that a full run would otherwise reach. Without cgroups (an
    ordinary user) the pool would lower that cap until every session's full tmpfs fits in the
    host's memory; these sessions hardly use theirs, so the total they may fit in is lifted.
    """
    with start_session_pool(max_sessions=1000, total_memory_mb=2_000_000) as pool:
        yield pool
