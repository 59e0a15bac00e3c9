"""The session pool's files, session and interrupt calls, made with one shared async client."""

from urllib.parse import quote

import httpx

from errors import NotFound, NotSupported, PayloadTooLarge, PoolUnavailable
from tools.pool import SessionPool

FILES_API_VERSION = "2024-02-02-preview"
SESSION_API_VERSION = "2025-10-02-preview"


class PoolClient:
    """Calls on one session of the pool; failures become the service's own errors."""

    def __init__(self, pool: SessionPool, http: httpx.AsyncClient) -> None:
        self._pool = pool
        self._http = http

    async def list_files(self, session: str) -> list[dict]:
        response = await self._call("GET", "files", session)
        return [_file_entry(item.get("properties", {})) for item in response.json()["value"]]

    async def upload(self, session: str, name: str, data: bytes) -> dict:
        files = {"file": (name, data, "application/octet-stream")}
        response = await self._call("POST", "files/upload", session, files=files)
        return _file_entry(response.json()["value"][0]["properties"])

    async def download(self, session: str, name: str) -> httpx.Response:
        return await self._call("GET", f"files/content/{quote(name)}", session)

    async def delete_file(self, session: str, name: str) -> None:
        # The 2024-02-02-preview files API has no delete; later versions have it (Azure too).
        await self._call("DELETE", f"files/{quote(name)}", session, api_version=SESSION_API_VERSION)

    async def delete_session(self, session: str) -> None:
        await self._call("DELETE", "session", session, api_version=SESSION_API_VERSION)

    async def interrupt(self, session: str) -> None:
        if not self._pool.local:
            raise NotSupported("interrupting code is an extension of the local session pool")
        await self._call("POST", "session/interrupt", session, api_version=SESSION_API_VERSION)

    async def healthy(self) -> bool:
        try:
            response = await self._http.get(f"{self._pool.endpoint}healthz", timeout=2.0)
        except httpx.TransportError:
            return False
        # Azure's pool has no health route; any answer means it is reachable.
        return response.status_code < 500

    async def _call(
        self, method: str, route: str, session: str, api_version: str = FILES_API_VERSION, **kw
    ) -> httpx.Response:
        params = {"identifier": session, "api-version": api_version}
        url = self._pool.endpoint + route
        try:
            response = await self._send(method, url, params, kw)
        except httpx.TransportError:
            # A restarted local pool refuses connections for a moment and drops kept-alive ones.
            await self._pool.recover(timeout=30.0)
            response = await _mapped(self._send(method, url, params, kw))
        _raise_for_status(response)
        return response

    async def _send(self, method: str, url: str, params: dict, kw: dict) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._pool.token()}"}
        return await self._http.request(method, url, params=params, headers=headers, **kw)


async def _mapped(call):
    try:
        return await call
    except httpx.TransportError as error:
        raise PoolUnavailable(f"the code session pool is not reachable ({error!r})") from None


def _file_entry(properties: dict) -> dict:
    return {
        "name": properties.get("filename"),
        "size": properties.get("size"),
        "last_modified": properties.get("lastModifiedTime"),
    }


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    message = _error_message(response)
    if response.status_code == 404:
        raise NotFound(message or "no such file in this conversation's session")
    if response.status_code == 413:
        raise PayloadTooLarge(message or "the file is too large for the session")
    raise PoolUnavailable(f"the code session pool answered {response.status_code}: {message}")


def _error_message(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
