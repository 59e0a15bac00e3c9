"""The agent's Python tool: the official SessionsPythonREPLTool, bound per run to its session."""

import asyncio
import contextlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import requests
import urllib3
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from conversations import Conversation
from conversations.transcript import PYTHON_TOOL, tool_content
from errors import PoolUnavailable, ServiceError
from tools.pool import SessionPool
from tools.pool_client import SESSION_API_VERSION

with warnings.catch_warnings():
    # The package warns on import that it moves to langchain-azure-compute (not on our index).
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_azure_dynamic_sessions import SessionsPythonREPLTool

TOOL_DESCRIPTION = (
    "A stateful Python session (IPython) for this conversation. Use it for every calculation, "
    "data analysis or plot instead of guessing. Variables, imports and files in /mnt/data "
    "persist between calls. The value of the last expression is returned as `result`, "
    "together with stdout and stderr; a matplotlib figure shown with plt.show() is returned "
    "as an image. numpy, pandas, matplotlib and scikit-learn are installed; there is no "
    "internet access."
)
RESET_NOTE = (
    "The code session was reset (the session pool restarted), so variables and files from "
    "earlier turns are gone; this code ran in a fresh session."
)
EXPIRED_NOTE = (
    "The code session expired (it was idle longer than the pool's cooldown), so variables and "
    "files from earlier turns are gone; this code ran in a fresh session."
)
LOST_DURING_RUN = (
    "The connection to the code session was lost while this code ran: the session was reset "
    "(its variables and files are gone). Run the code again if it is safe to repeat."
)
CACHED_SESSIONS = 512


class _Refused(PoolUnavailable):
    """The pool refused the connection, so the code did not start."""


def _refused(error: requests.ConnectionError) -> bool:
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class PythonCode(BaseModel):
    python_code: str = Field(description="Python code to run; end with an expression to see it.")


class SessionPythonTool(BaseTool):
    """Runs code through the official tool in the session of the run's conversation.

    The official tool keeps one session per instance, so one instance is kept per session.
    Its artifact still holds image data that it drops from what the model sees.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = PYTHON_TOOL
    description: str = TOOL_DESCRIPTION
    args_schema: type[BaseModel] = PythonCode
    response_format: str = "content_and_artifact"
    pool: SessionPool
    timeout: float = 240.0
    result_max_chars: int = 8000
    # Stops the code of a call whose caller went away (Azure's pool cannot: its NotSupported
    # is ignored, and the call's own timeout ends the code there).
    interrupt: Callable[[str], Awaitable[None]] | None = None
    _sessions: OrderedDict = PrivateAttr(default_factory=OrderedDict)
    _epochs: dict = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _interrupts: set = PrivateAttr(default_factory=set)

    def _run(self, python_code: str, config: RunnableConfig, **kwargs: Any) -> tuple[str, dict]:
        return self._execute(Conversation.from_config(config).session_id, python_code)

    async def _arun(self, python_code: str, config: RunnableConfig, **kw: Any) -> tuple[str, dict]:
        session = Conversation.from_config(config).session_id
        await self.pool.wait_ready(timeout=30.0)
        try:
            return await self._bounded(session, python_code)
        except _Refused:
            # A local pool being restarted refuses connections; the code never started.
            await self.pool.recover(timeout=30.0)
            return await self._bounded(session, python_code)

    async def _bounded(self, session: str, python_code: str) -> tuple[str, dict]:
        try:
            # The official tool uses blocking requests without a timeout; bound the wait here.
            return await asyncio.wait_for(
                asyncio.to_thread(self._execute, session, python_code), self.timeout
            )
        except TimeoutError:
            raise PoolUnavailable(f"the code did not finish within {self.timeout:g} s") from None
        except asyncio.CancelledError:
            # The caller is gone (a stop, a closed tab, the turn's deadline): the code would
            # otherwise run on to its timeout, holding the session.
            self._interrupt_soon(session)
            raise

    def _interrupt_soon(self, session: str) -> None:
        if self.interrupt is None:
            return
        task = asyncio.get_running_loop().create_task(_quietly(self.interrupt(session)))
        self._interrupts.add(task)  # the loop keeps only a weak reference to its tasks
        task.add_done_callback(self._interrupts.discard)

    def _execute(self, session: str, python_code: str) -> tuple[str, dict]:
        try:
            expired = self._expired(session)
            _content, response = self._official_tool(session)._run(python_code)
        except requests.ConnectionError as error:
            if _refused(error):
                raise _Refused("the code session pool is not reachable") from None
            response = {"status": "Failure", "result": "", "stderr": LOST_DURING_RUN}
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else "?"
            raise PoolUnavailable(f"the code session pool answered {status}") from None
        # Only a call that reached the pool tells whether its session outlived a restart.
        note = self._reset_note(session) or (EXPIRED_NOTE if expired else None)
        step = _step(response)
        return tool_content(step, self.result_max_chars, note), step

    def _official_tool(self, session: str) -> SessionsPythonREPLTool:
        with self._lock:
            tool = self._sessions.pop(session, None) or SessionsPythonREPLTool(
                pool_management_endpoint=self.pool.endpoint,
                access_token_provider=self.pool.token,
                session_id=session,
            )
            self._sessions[session] = tool
            while len(self._sessions) > CACHED_SESSIONS:
                evicted, _tool = self._sessions.popitem(last=False)
                self._epochs.pop(evicted, None)
            return tool

    def _expired(self, session: str) -> bool:
        """True when a session this tool used before is gone from the pool (idle expiry)."""
        if session not in self._epochs:
            return False
        response = requests.get(
            f"{self.pool.endpoint}session",
            params={"identifier": session, "api-version": SESSION_API_VERSION},
            headers={"Authorization": f"Bearer {self.pool.token()}"},
            timeout=10,
        )
        return response.status_code == 404

    def _reset_note(self, session: str) -> str | None:
        with self._lock:
            previous = self._epochs.get(session)
            self._epochs[session] = self.pool.epoch
        return RESET_NOTE if previous is not None and previous != self.pool.epoch else None


async def _quietly(interrupt: Awaitable[None]) -> None:
    # A pool that cannot interrupt (Azure's) or is gone ends the code at its own timeout.
    with contextlib.suppress(ServiceError):
        await interrupt


def _step(response: dict) -> dict:
    """The pool's answer as an API step: image data moved from `result` to `images`."""
    result = response.get("result")
    images = []
    if isinstance(result, dict) and result.get("type") == "image":
        images.append(result.get("base64_data", ""))
        result = {key: value for key, value in result.items() if key != "base64_data"}
    return {
        "status": response.get("status", ""),
        "result": result,
        "stdout": response.get("stdout") or "",
        "stderr": response.get("stderr") or "",
        "images": images,
    }
