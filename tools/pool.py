"""Where code sessions live: Azure's session pool, a running local pool, or one we supervise."""

import asyncio
import contextlib
from collections.abc import Callable
from urllib.parse import urlparse

import httpx

from azure_auth import DYNAMIC_SESSIONS_SCOPE, entra_token_provider
from errors import PoolUnavailable
from settings import Settings


class SessionPool:
    """A dynamic-sessions endpoint and how to authenticate to it."""

    endpoint: str
    local: bool = False

    def token(self) -> str:
        raise NotImplementedError

    async def start(self) -> None:
        """Nothing to start for a pool that runs elsewhere."""

    async def stop(self) -> None:
        """Nothing to stop for a pool that runs elsewhere."""

    async def wait_ready(self, timeout: float) -> None:
        """Return once the pool can take calls (at once for a remote pool)."""

    async def recover(self, timeout: float) -> None:
        """After a refused connection: wait for the pool to come back, or give up."""
        raise PoolUnavailable("the code session pool is not reachable")


class RemoteSessionPool(SessionPool):
    """A pool that runs elsewhere: Azure's (Entra ID tokens), or a local one started by hand or
    by `python -m serve` for its workers."""

    def __init__(self, endpoint: str, token_provider: Callable[[], str], local: bool) -> None:
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.local = local
        self._token_provider = token_provider

    def token(self) -> str:
        return self._token_provider()

    async def recover(self, timeout: float) -> None:
        """A local pool is waited for until `timeout` (the one `python -m serve` supervises is
        restarted at once when it dies); Azure's is not one to wait for."""
        if not self.local:
            return await super().recover(timeout)
        deadline = asyncio.get_running_loop().time() + timeout
        if not await until_answering(self.endpoint, deadline.__gt__):
            waited = f" (waited {timeout:g} s for it to come back)" if timeout else ""
            raise PoolUnavailable(f"the code session pool is not reachable{waited}")


async def until_answering(
    endpoint: str,
    worth_waiting: Callable[[float], bool],
    ready: Callable[[], bool] = lambda: True,
) -> bool:
    """Whether the pool at `endpoint` answers its health route (once `ready()` holds), asked
    every 50 ms while `worth_waiting(now)` (the loop's clock) holds."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=1.0) as client:
        while True:
            if ready():
                with contextlib.suppress(httpx.TransportError):
                    await client.get(f"{endpoint}healthz")
                    return True
            if not worth_waiting(loop.time()):
                return False
            await asyncio.sleep(0.05)


def is_azure_endpoint(endpoint: str) -> bool:
    host = urlparse(endpoint).hostname or ""
    return host.endswith(".dynamicsessions.io")


def build_session_pool(settings: Settings) -> SessionPool:
    """The pool the settings name, or a supervised local pool when none is named."""
    endpoint = settings.pool_management_endpoint
    if not endpoint:
        from tools.local_pool import LocalSessionPool

        return LocalSessionPool()
    if is_azure_endpoint(endpoint):
        # The provider caches the token and refreshes it before it expires.
        provider = entra_token_provider(DYNAMIC_SESSIONS_SCOPE, settings.azure_client_id)
        return RemoteSessionPool(endpoint, provider, local=False)
    key = settings.session_pool_api_key.get_secret_value() if settings.session_pool_api_key else ""
    return RemoteSessionPool(endpoint, lambda: key, local=True)
