"""Start real servers as child processes on free loopback ports, and stop them cleanly."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# Variables that would choose a model, a pool, a database or a sign-in behind the caller's back.
SERVICE_CONFIG_VARS = (
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
    "AUTH_MODE",
    "API_KEYS",
    "ENTRA_TENANT_ID",
    "ENTRA_AUDIENCE",
    "ENTRA_REQUIRED_SCOPES",
    "ENTRA_REQUIRED_ROLES",
    "ENTRA_ALLOW_GUESTS",
    "SESSION_SECRET",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "TELEMETRY_CAPTURE_CONTENT",
    "WORKERS",
)
# One client process is one loopback user: the per-user limits have their own tests
# (tests/security/test_limits.py, tests/service/test_turn_limits.py) and would only throttle.
UNLIMITED_CALLER = {"RATE_LIMIT_PER_MINUTE": "1000000", "MAX_CONCURRENT_RUNS_PER_USER": "1000"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll `url` until it answers with any HTTP status, or fail with the server's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"no answer from {url} within {timeout} s")


@contextmanager
def running_server(
    args: Sequence[str],
    ready_url: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[subprocess.Popen]:
    """Run `python *args` from the repository root until the block ends, then stop it."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=full_env, start_new_session=True)
    try:
        wait_until_up(ready_url, proc, timeout)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL the whole process group if it outlives the grace period."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextmanager
def running_service(
    env: Mapping[str, str], data_dir: Path, *uvicorn_args: str, timeout: float = 90.0
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The service as `make run` starts it (`serve.py`), from `data_dir` (so no .env file is
    read), with none of this process's service settings, the per-user limits lifted and one
    worker unless `env` says WORKERS; `env` last."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k not in SERVICE_CONFIG_VARS}
    full_env = {**base, **UNLIMITED_CALLER, "WORKERS": "1", "DATA_DIR": str(data_dir), **env}
    args = [str(ROOT / "serve.py"), "--host", "127.0.0.1", "--port", str(port), *uvicorn_args]
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=data_dir, env=full_env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", proc, timeout=timeout)
        yield url, proc
    finally:
        stop(proc)
