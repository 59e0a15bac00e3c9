"""Fixtures: the real service in a child process, the scripted model, and the real pool."""

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from langserve import RemoteRunnable

from tests.support.postgres import running_postgres
from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain
from tests.support.servers import running_service


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
    with running_service({"LLM_MAX_RETRIES": "1", **env}, data_dir) as (url, proc):
        yield Service(url, proc)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL on a free port: its URL without the password (tests.support.postgres)."""
    with running_postgres() as url:
        yield url


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
