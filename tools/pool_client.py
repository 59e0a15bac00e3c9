"""Calls on the pool's sessions (code, files, session, interrupt) over one keep-alive client.

Every call goes through the service's one `httpx.AsyncClient`, so connections to the pool
are reused. Failures become the service's own errors. The client also keeps what the
service knows of each session without asking the pool: which pool process answered its last
call, and when. A session last answered by another process of the local pool (it restarted,
which every worker sees in the answers' `x-session-pool-instance`) or idle longer than
SESSION_POOL_COOLDOWN_SECONDS is gone with its variables, and the next execution says so to
the model; no probe is made.
"""

import asyncio
import contextlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from conversations.outputs import PNG, outputs_of_result
from errors import (
    NotFound,
    NotSupported,
    PayloadTooLarge,
    PoolBusy,
    PoolUnavailable,
    ServiceError,
)
from tools.pool import SessionPool

# The local pool names its process on every answer (an extension; Azure's pool sends none).
POOL_INSTANCE_HEADER = "x-session-pool-instance"
FILES_API_VERSION = "2024-02-02-preview"  # as SessionsPythonREPLTool: code/execute and files
SESSION_API_VERSION = "2025-10-02-preview"
READY_TIMEOUT = 30.0
REMEMBERED_SESSIONS = 4096
# The conversation's files are kept by the service and restored into a new session
# (conversations/files.py; the agent's files note names them).
RESET_NOTE = (
    "The code session was reset (the session pool restarted), so variables from earlier "
    "turns are gone; this code ran in a fresh session."
)
EXPIRED_NOTE = (
    "The code session expired (it was idle longer than the pool's cooldown), so variables "
    "from earlier turns are gone; this code ran in a fresh session."
)
LOST_DURING_RUN = (
    "The connection to the code session was lost while this code ran: the session was reset "
    "(its variables are gone). Run the code again if it is safe to repeat."
)
# Errors before the request reached the pool: code never started, so sending it again is safe.
NOT_STARTED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.WriteError, httpx.PoolTimeout)
# Any other call (files, the session) may simply be sent again.
ANY_TRANSPORT_ERROR = (httpx.TransportError,)
# A fenced block as a model sometimes sends it: ```python ... ```
FENCE = re.compile(r"^[\s`]*(?:python\b)?|[\s`]*$", re.IGNORECASE)


@dataclass
class Execution:
    """A run's step (status, result, stdout, stderr, and its Jupyter outputs) and what the
    model should know about the session first, if anything (it was reset or expired)."""

    step: dict
    note: str | None = None


class PoolClient:
    """Calls on one session of the pool; failures become the service's own errors."""

    def __init__(
        self,
        pool: SessionPool,
        http: httpx.AsyncClient,
        code_timeout: float = 240.0,
        cooldown: float = 300.0,
    ) -> None:
        self._pool = pool
        self._http = http
        self._code_timeout = code_timeout
        self._cooldown = cooldown
        self._last_calls: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        self._lost: OrderedDict[str, str] = OrderedDict()
        self._interrupts: set[asyncio.Task] = set()

    async def execute(self, session: str, code: str) -> Execution:
        """Run `code` in the session, as `SessionsPythonREPLTool.execute` does. A cancelled
        call (the client went away, the turn's deadline) interrupts its code."""
        body = {
            "properties": {
                "codeInputType": "inline",
                "executionType": "synchronous",
                "code": FENCE.sub("", code),
            }
        }
        await self._pool.wait_ready(READY_TIMEOUT)
        timeout = httpx.Timeout(self._code_timeout, connect=5.0)
        try:
            response = await self._call(
                "POST", "code/execute", session, json=body, timeout=timeout, retry_after=NOT_STARTED
            )
        except httpx.TimeoutException:
            self._interrupt_soon(session)
            raise PoolUnavailable(
                f"the code did not finish within {self._code_timeout:g} s"
            ) from None
        except httpx.TransportError:
            return Execution(_failure(LOST_DURING_RUN), self._lost.pop(session, None))
        except asyncio.CancelledError:
            self._interrupt_soon(session)
            raise
        properties = response.json().get("properties", {})
        outputs = await self._outputs(session, properties)
        return Execution(_step(properties, outputs), self._lost.pop(session, None))

    async def _outputs(self, session: str, properties: dict) -> list[dict]:
        """Every Jupyter output of the execution, in display order: the local pool's
        `GET session/outputs` (an extension); elsewhere (Azure's pool) the answer's one image."""
        answered = outputs_of_result(properties.get("result"))
        if not self._pool.local:
            return answered
        try:
            response = await self._call(
                "GET", "session/outputs", session, api_version=SESSION_API_VERSION
            )
            outputs = response.json().get("outputs")
        except (ServiceError, httpx.TransportError, ValueError):
            return answered
        # The outputs are the session's last call's: another call since (a second client in
        # the same conversation) would not agree with this answer; keep the answer's own then.
        if not isinstance(outputs, list) or not _agrees(outputs, properties):
            return answered
        return outputs

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
        self,
        method: str,
        route: str,
        session: str,
        api_version: str = FILES_API_VERSION,
        retry_after: tuple[type[httpx.TransportError], ...] = ANY_TRANSPORT_ERROR,
        **kw,
    ) -> httpx.Response:
        self._note_if_expired(session)
        params = {"identifier": session, "api-version": api_version}
        url = self._pool.endpoint + route
        try:
            response = await self._send(method, url, params, kw)
        except retry_after:
            # A restarted local pool refuses connections for a moment and drops kept-alive
            # ones; the call is sent once more when it is back. A pool that never answered
            # this process is down rather than restarting: it is not waited for.
            await self._pool.recover(timeout=READY_TIMEOUT if self._last_calls else 0.0)
            response = await _mapped(self._send(method, url, params, kw))
        self._remember(session, response.headers.get(POOL_INSTANCE_HEADER))
        _raise_for_status(response)
        return response

    async def _send(self, method: str, url: str, params: dict, kw: dict) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._pool.token()}"}
        return await self._http.request(method, url, params=params, headers=headers, **kw)

    def _note_if_expired(self, session: str) -> None:
        """Before a call: whether the session has been idle past the pool's cooldown."""
        last = self._last_calls.get(session)
        if last is not None and time.monotonic() - last[1] > self._cooldown:
            self._lost[session] = EXPIRED_NOTE
            _trim(self._lost)

    def _remember(self, session: str, instance: str | None) -> None:
        """After a call the pool answered: which pool process holds the session, as of now.
        Another than at our last call means the pool restarted: the session is a new one."""
        last = self._last_calls.pop(session, None)
        if last is not None and last[0] != instance:
            self._lost[session] = RESET_NOTE
            _trim(self._lost)
        self._last_calls[session] = (instance, time.monotonic())
        _trim(self._last_calls)

    def _interrupt_soon(self, session: str) -> None:
        task = asyncio.get_running_loop().create_task(self._interrupt_quietly(session))
        self._interrupts.add(task)  # the loop keeps only a weak reference to its tasks
        task.add_done_callback(self._interrupts.discard)

    async def _interrupt_quietly(self, session: str) -> None:
        # A pool that cannot interrupt (Azure's) or is gone ends the code at its own timeout.
        with contextlib.suppress(ServiceError, httpx.TransportError):
            await self.interrupt(session)


def _trim(remembered: OrderedDict) -> None:
    while len(remembered) > REMEMBERED_SESSIONS:
        remembered.popitem(last=False)


async def _mapped(call):
    try:
        return await call
    except httpx.TransportError as error:
        raise PoolUnavailable(f"the code session pool is not reachable ({error!r})") from None


def _step(properties: dict, outputs: list[dict]) -> dict:
    """The pool's answer as a step: its Jupyter outputs beside the result, whose image data
    is left out (it is among the outputs)."""
    result = properties.get("result")
    if isinstance(result, dict) and result.get("type") == "image":
        result = {key: value for key, value in result.items() if key != "base64_data"}
    return {
        "status": properties.get("status", ""),
        "result": result,
        "stdout": properties.get("stdout") or "",
        "stderr": properties.get("stderr") or "",
        "outputs": outputs,
    }


def _agrees(outputs: list[dict], properties: dict) -> bool:
    """The outputs belong to the answer: the same outcome and the same first image (the
    answer's `result` is the first image shown, when there is one)."""
    raised = any(isinstance(o, dict) and o.get("output_type") == "error" for o in outputs)
    if raised and properties.get("status") == "Success":
        return False
    shown = outputs_of_result(properties.get("result"))
    first = next((o for o in outputs if isinstance(o, dict) and PNG in (o.get("data") or {})), None)
    return (first or {}).get("data", {}).get(PNG) == (shown[0]["data"][PNG] if shown else None)


def _failure(message: str) -> dict:
    return {"status": "Failure", "result": "", "stdout": "", "stderr": message, "outputs": []}


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
    # The pool's own advice on when to come back reaches the client with its status.
    retry_after = response.headers.get("Retry-After")
    headers = {"Retry-After": retry_after} if retry_after else None
    if response.status_code == 429:
        raise PoolBusy(f"the code session pool is full: {message}", headers)
    raise PoolUnavailable(
        f"the code session pool answered {response.status_code}: {message}", headers
    )


def _error_message(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
