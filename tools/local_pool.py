"""The local session pool as a supervised child process: started, restarted, stopped."""

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from errors import PoolUnavailable
from tools.pool import SessionPool, until_answering

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0
POOL_PREFIX = "SESSION_POOL_"
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
MAX_RESTART_DELAY = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalSessionPool(SessionPool):
    """`python -m sessionpool` on a free loopback port with a random key, kept alive."""

    local = True

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}/"
        self._key = secrets.token_urlsafe(32)
        self._proc: asyncio.subprocess.Process | None = None
        self._ready = asyncio.Event()
        self._supervisor: asyncio.Task | None = None
        self._stopping = False
        self._starting = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def token(self) -> str:
        return self._key

    async def start(self) -> None:
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise())

    async def wait_ready(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        worth_waiting = self._worth(deadline)
        while not self._ready.is_set():
            if not worth_waiting(asyncio.get_running_loop().time()):
                raise PoolUnavailable("the local session pool is restarting; try again")
            await asyncio.sleep(0.05)

    async def recover(self, timeout: float) -> None:
        """Wait until the supervisor has noticed a crash and the restarted pool answers."""
        deadline = asyncio.get_running_loop().time() + timeout
        if not await until_answering(self.endpoint, self._worth(deadline), self._ready.is_set):
            raise PoolUnavailable("the local session pool did not come back in time")

    def _worth(self, deadline: float) -> Callable[[float], bool]:
        """Until the caller's deadline, and past it while a start is in progress: a pool
        still starting (its data stack takes half a minute to load on a busy host) is not one
        that will not come back, and each start ends within START_TIMEOUT."""
        return lambda now: self._starting or now < deadline

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor:
            self._supervisor.cancel()
        if self._proc and self._proc.returncode is None:
            await _terminate(self._proc)

    async def _spawn(self) -> None:
        self._starting = True
        try:
            await self._start_process()
        finally:
            self._starting = False

    async def _start_process(self) -> None:
        # Only what the pool reads: the service's own secrets stay out of its environment.
        env = {k: v for k, v in os.environ.items() if k in BASE_ENV or k.startswith(POOL_PREFIX)}
        env["SESSION_POOL_API_KEY"] = self._key
        # A service killed outright (SIGKILL) runs no shutdown: the pool then stops itself
        # (--parent-pid). The signal follows the spawning thread, the event loop's, alive as
        # long as the service is.
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "sessionpool", "--host", "127.0.0.1", "--port", str(self.port)),
            *("--parent-pid", str(os.getpid())),
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        try:
            await self._wait_healthy()
        except PoolUnavailable:
            if self._proc.returncode is None:
                # A pool that did not start in time must not start later beside its successor.
                await _terminate(self._proc)
            raise
        self._ready.set()
        log.info("local session pool ready on %s (pid %s)", self.endpoint, self._proc.pid)

    async def _wait_healthy(self) -> None:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        proc = self._running()

        def worth_waiting(now: float) -> bool:  # a pool that has exited will never answer
            return proc.returncode is None and now < deadline

        if await until_answering(self.endpoint, worth_waiting):
            return
        if proc.returncode is not None:
            raise PoolUnavailable(f"the local session pool exited ({proc.returncode})")
        raise PoolUnavailable("the local session pool did not start in time")

    def _running(self) -> asyncio.subprocess.Process:
        if self._proc is None:
            raise PoolUnavailable("the local session pool was never started")
        return self._proc

    async def _supervise(self) -> None:
        delay = 0.2
        while not self._stopping:
            code = await self._running().wait()
            self._ready.clear()
            if self._stopping:
                return
            log.warning("local session pool exited with %s; restarting in %.1f s", code, delay)
            await asyncio.sleep(delay)
            try:
                await self._spawn()
                delay = 0.2
            except PoolUnavailable as error:
                log.error("restarting the local session pool failed: %s", error)
                delay = min(delay * 2, MAX_RESTART_DELAY)


async def _terminate(proc: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    """SIGTERM the pool's process group, SIGKILL it if it outlives the grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), grace)
    except (ProcessLookupError, TimeoutError):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
