"""Fixtures: the real service in a child process, the scripted model, and the real pool."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from langserve import RemoteRunnable

from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain
from tests.support.servers import ROOT, free_port, stop, wait_until_up

# Variables that would choose a model, a pool or a database behind a test's back.
_CONFIG_VARS = (
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_DEPLOYMENT",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "POOL_MANAGEMENT_ENDPOINT",
    "SESSION_POOL_API_KEY",
    "DATABASE_URL",
    "LANGSMITH_TRACING",
)


# Every test client is the same loopback user; the per-user limits have their own tests
# (tests/security/test_limits.py, tests/service/test_turn_limits.py) and would only throttle here.
_UNLIMITED = {"RATE_LIMIT_PER_MINUTE": "1000000", "MAX_CONCURRENT_RUNS_PER_USER": "1000"}


@dataclass
class Service:
    url: str
    proc: subprocess.Popen

    def remote(self, path: str) -> RemoteRunnable:
        return RemoteRunnable(f"{self.url}{path}", timeout=60)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


@contextmanager
def run_service(env: dict[str, str], data_dir: Path) -> Iterator[Service]:
    """`uvicorn server:app` as `make run` starts it, from a directory without a .env file."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k not in _CONFIG_VARS}
    full_env = {**base, **_UNLIMITED, "DATA_DIR": str(data_dir), "LLM_MAX_RETRIES": "1", **env}
    args = ["-m", "uvicorn", "server:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, *args, "--app-dir", str(ROOT)],
        cwd=data_dir,
        env=full_env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", proc, timeout=90)
        yield Service(url, proc)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def scripted_llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(arithmetic_brain) as llm:
        yield llm


@pytest.fixture
def llm(scripted_llm: ScriptedLLM) -> Iterator[ScriptedLLM]:
    """The module's scripted model, with the arithmetic brain and an empty queue per test."""
    scripted_llm.reset(arithmetic_brain)
    yield scripted_llm
    scripted_llm.reset(arithmetic_brain)


def pool_env(session_pool) -> dict[str, str]:
    return {
        "POOL_MANAGEMENT_ENDPOINT": session_pool.endpoint,
        "SESSION_POOL_API_KEY": session_pool.api_key,
    }


def azure_env(llm: ScriptedLLM) -> dict[str, str]:
    return {
        "AZURE_OPENAI_ENDPOINT": llm.url,
        "AZURE_OPENAI_API_KEY": "scripted-azure-key",
        "AZURE_OPENAI_DEPLOYMENT": "scripted-deployment",
        "LLM_TIMEOUT_SECONDS": "2",
    }


@pytest.fixture(scope="module")
def azure_service(scripted_llm, session_pool, tmp_path_factory) -> Iterator[Service]:
    """The service with AzureChatOpenAI (scripted) and the real local pool."""
    env = {**azure_env(scripted_llm), **pool_env(session_pool)}
    with run_service(env, tmp_path_factory.mktemp("azure-data")) as service:
        yield service
