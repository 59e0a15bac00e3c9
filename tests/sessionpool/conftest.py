"""Helpers for the pool's suites: an authenticated HTTP client and a code runner."""

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningPool, start_session_pool

GEN1 = "2024-02-02-preview"
GEN2 = "2025-02-02-preview"


class PoolClient:
    """Raw HTTP against a running pool, with its key."""

    def __init__(self, pool: RunningPool) -> None:
        self.pool = pool
        self.http = httpx.Client(
            base_url=pool.endpoint,
            headers={"Authorization": f"Bearer {pool.api_key}"},
            timeout=60,
        )

    def run(self, code: str, identifier: str, timeout: float | None = None, **extra) -> dict:
        """`code/execute` (generation 1); returns the `properties`."""
        properties = {"codeInputType": "inline", "executionType": "synchronous", "code": code}
        if timeout is not None:
            properties["timeoutInSeconds"] = timeout
        properties |= extra
        response = self.http.post(
            "/code/execute",
            params={"identifier": identifier, "api-version": GEN1},
            json={"properties": properties},
        )
        assert response.status_code == 200, response.text
        return response.json()["properties"]

    def value(self, code: str, identifier: str, **kwargs) -> object:
        properties = self.run(code, identifier, **kwargs)
        assert properties["status"] == "Success", properties["stderr"]
        return properties["result"]


def new_id() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def client(session_pool) -> Iterator[PoolClient]:
    pool_client = PoolClient(session_pool)
    with pool_client.http:
        yield pool_client


@pytest.fixture(scope="module")
def small_pool() -> Iterator[PoolClient]:
    """A second pool with short, tight settings, for expiry, the cap and the quotas."""
    settings = {
        "cooldown_seconds": 2,
        "max_sessions": 3,
        "ready_sessions": 1,
        "disk_mb": 8,
        "tmp_mb": 8,
        "memory_mb": 256,
        "max_processes": 16,
        "timeout_seconds": 5,
        "interrupt_grace_seconds": 1,
        "output_max_length": 100,
        "max_code_bytes": 1000,
        "max_upload_mb": 1,
    }
    with start_session_pool(**settings) as pool:
        pool_client = PoolClient(pool)
        with pool_client.http:
            yield pool_client
