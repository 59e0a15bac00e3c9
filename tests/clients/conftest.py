"""The real local pool for the official clients, over http (AutoGen, LlamaIndex) and https
(Semantic Kernel refuses plain http); it runs from the service's environment, the clients
from this one."""

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.certificates import self_signed

ROOT = Path(__file__).resolve().parents[2]
POOL_PYTHON = ROOT / ".venv" / "bin" / "python"


@dataclass
class Pool:
    endpoint: str
    key: str
    certificate: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def pool() -> Iterator[Pool]:
    with _running_pool() as running:
        yield running


@pytest.fixture(scope="session")
def https_pool(tmp_path_factory) -> Iterator[Pool]:
    certificate, key = self_signed(tmp_path_factory.mktemp("tls"), "pool")
    with _running_pool((str(certificate), str(key))) as running:
        yield running


@contextmanager
def _running_pool(tls: tuple[str, str] | None = None) -> Iterator[Pool]:
    port, key = _free_port(), secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSION_POOL_")}
    env |= {"SESSION_POOL_API_KEY": key, "SESSION_POOL_READY_SESSIONS": "2"}
    command = [str(POOL_PYTHON), "-m", "sessionpool", "--host", "127.0.0.1", "--port", str(port)]
    if tls is not None:
        command += ["--ssl-certfile", tls[0], "--ssl-keyfile", tls[1]]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    certificate = tls[0] if tls else ""
    try:
        _wait_until_up(f"{endpoint}/healthz", certificate or True, process)
        yield Pool(endpoint, key, certificate)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, certificate: str | bool, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the pool exited with {process.returncode}")
        try:
            httpx.get(url, verify=certificate, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"no answer from {url}")
