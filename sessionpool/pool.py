"""Sessions and their lifecycle: creation from ready kernels, calls, timeouts, expiry, the cap."""

import asyncio
import itertools
import logging
import math
import os
import time
from collections import deque
from datetime import UTC, datetime

from sessionpool import files
from sessionpool.sandbox import UID_SPREAD, KernelProcess, Sandbox, SandboxError
from sessionpool.session import Outcome, Session, outcome_from
from sessionpool.settings import PoolSettings

log = logging.getLogger("sessionpool")

NOTE = "[session pool]"
REPLY_LIMIT = 64 * 1024 * 1024
SMALL_REPLY = 4096
INTERRUPTED = f"{NOTE} Interrupted on request; the session's variables are kept.\n"
# Kernels being started at once: two per core. About a third of a start is waiting, not CPU
# (its first process joining its cgroup v1 groups waits for an RCU grace period), which other
# starts overlap; with one per core a burst left the cores partly idle (bench.pool at 100/s,
# paced p99 4.1 -> 2.6 s, median of 6 interleaved rounds on a loaded machine).
SPAWNS_AT_ONCE = 2 * (os.cpu_count() or 1)


class SessionLimitError(RuntimeError):
    """The cap on live sessions is reached."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the pool holds its maximum number of sessions; retry in {retry_after} s")
        self.retry_after = retry_after


class Pool:
    """All sessions of this pool, the ready kernels, and the expiry loop."""

    def __init__(self, settings: PoolSettings, sandbox: Sandbox) -> None:
        self.settings = settings
        self.sandbox = sandbox
        self.sessions: dict[str, Session] = {}
        self._pending: dict[str, asyncio.Future] = {}
        self._ready: deque[KernelProcess] = deque()
        self._waiting: deque[asyncio.Future[KernelProcess]] = deque()  # first come, first served
        self._spawns: set[asyncio.Task] = set()
        self._starting = 0  # kernels being started
        self._resting = False  # after a failed start with nobody waiting: no retry for a second
        self._uids = itertools.count(1)
        self._tasks: list[asyncio.Task] = []
        self._interrupts: set[asyncio.Task] = set()
        self.stopping = False
        self._closed = False

    async def start(self) -> None:
        await asyncio.to_thread(self.sandbox.start)
        self._tasks = [asyncio.create_task(self._expire_idle())]
        self._top_up()

    async def stop(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        # Starts in flight finish within their hello timeout; their kernels are closed on arrival.
        await asyncio.gather(*self._tasks, *self._spawns, return_exceptions=True)
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_exception(SandboxError("the pool is stopping"))
        for session in list(self.sessions.values()):
            self._discard(session)
        while self._ready:
            self._ready.popleft().close()
        await asyncio.to_thread(self.sandbox.stop)

    @property
    def max_sessions(self) -> int:
        """The configured cap, or fewer where the host's memory needs it (see resources)."""
        return self.sandbox.resources.max_sessions

    # --- kernels -------------------------------------------------------------------------

    def _allocate_uid(self) -> int:
        """As root, a host uid never used before by this pool: a uid given back could still
        own a dying session's processes, which would count against its next owner's limit."""
        if os.geteuid() != 0:
            return os.geteuid()
        return self.sandbox.first_uid + next(self._uids) % UID_SPREAD

    async def _new_kernel(self, empty: bool = False) -> KernelProcess:
        return await asyncio.to_thread(self.sandbox.spawn, self._allocate_uid(), empty)

    async def _take_kernel(self) -> KernelProcess:
        """A ready kernel, or the next one started: every start goes through `_top_up`, so a
        burst of new sessions is served in order of arrival by at most SPAWNS_AT_ONCE starts
        that overlap."""
        if self._ready:
            kernel = self._ready.popleft()
            self._top_up()
            return kernel
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self._top_up()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._hand_over(waiter.result())  # given just as the caller gave up: keep it
            elif waiter in self._waiting:
                self._waiting.remove(waiter)
            raise

    def _top_up(self) -> None:
        """Start kernels, several at once, until every waiting session will get one and the
        ready set is full."""
        if self._closed:
            return
        ready = 0 if self._resting else self.settings.ready_sessions
        wanted = len(self._waiting) + ready - len(self._ready)
        while self._starting < min(wanted, SPAWNS_AT_ONCE):
            self._starting += 1
            task = asyncio.create_task(self._start_one())
            self._spawns.add(task)
            task.add_done_callback(self._spawns.discard)

    async def _start_one(self) -> None:
        try:
            kernel = await self._new_kernel()
        except Exception as error:  # whatever failed, a waiting request answers, saying why
            reason = error if isinstance(error, SandboxError) else SandboxError(repr(error))
            waiter = next((w for w in self._waiting if not w.done()), None)
            if waiter is not None:
                self._waiting.remove(waiter)
                waiter.set_exception(reason)
            elif not self._closed:
                log.error("could not start a ready session: %s", reason)
                self._rest()
        else:
            self._hand_over(kernel)
        finally:
            self._starting -= 1
        self._top_up()

    def _hand_over(self, kernel: KernelProcess) -> None:
        """To the longest-waiting session, else into the ready set."""
        if self._closed:
            kernel.close()
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(kernel)
                return
        self._ready.append(kernel)

    def _rest(self) -> None:
        def wake() -> None:
            self._resting = False
            self._top_up()

        self._resting = True
        asyncio.get_running_loop().call_later(1.0, wake)

    # --- sessions ------------------------------------------------------------------------

    async def session(self, identifier: str) -> Session:
        """The identifier's session, created on first use."""
        session = self.sessions.get(identifier)
        if session is not None:
            return session
        pending = self._pending.get(identifier)
        if pending is not None:
            return await asyncio.shield(pending)
        if len(self.sessions) + len(self._pending) >= self.max_sessions:
            raise SessionLimitError(self._retry_after())
        future = asyncio.get_running_loop().create_future()
        self._pending[identifier] = future
        try:
            session = await self._open(identifier)
        except BaseException as error:
            future.set_exception(error)
            future.exception()
            raise
        finally:
            del self._pending[identifier]
        self.sessions[identifier] = session
        future.set_result(session)
        return session

    async def _open(self, identifier: str) -> Session:
        return Session(identifier, await self._take_kernel(), time.time())

    def _retry_after(self) -> int:
        idle = [s.last_used for s in self.sessions.values() if not s.busy]
        if not idle:
            return max(1, math.ceil(self.settings.timeout_seconds))
        return max(1, math.ceil(min(idle) + self.settings.cooldown_seconds - time.time()))

    def expires_at(self, session: Session) -> float:
        return session.last_used + self.settings.cooldown_seconds

    async def delete(self, identifier: str) -> bool:
        session = self.sessions.pop(identifier, None)
        if session is None:
            return False
        self._discard(session)
        return True

    def _discard(self, session: Session) -> None:
        self.sessions.pop(session.identifier, None)
        session.close()

    async def _expire_idle(self) -> None:
        period = min(1.0, self.settings.cooldown_seconds / 4)
        while True:
            await asyncio.sleep(period)
            self.sandbox.sweep()
            now = time.time()
            for session in list(self.sessions.values()):
                if not session.busy and self.expires_at(session) <= now:
                    log.info("session %s expired after its cooldown", session.identifier)
                    self._discard(session)

    # --- calls ---------------------------------------------------------------------------

    async def execute(
        self, session: Session, code: str, timeout: float, max_output: int, empty: bool = False
    ) -> Outcome:
        """Run `code`; with `empty`, first in a new interpreter with nothing preloaded
        (`useEmptyKernel`), which the session then keeps."""
        async with session.lock:
            session.calls += 1
            session.last_used = time.time()
            try:
                if empty and not await self._swap(session, await self._new_kernel(empty=True)):
                    return self._gone()
                outcome = await self._run(session, code, timeout, max_output)
            finally:
                session.last_used = time.time()
            outcome.stderr += self._memory_note(session)
            if session.interrupted == session.calls and not outcome.succeeded:
                outcome.stderr += INTERRUPTED  # a stop, not an error (a finished run stays so)
            return outcome

    async def _run(self, session: Session, code: str, timeout: float, max_output: int) -> Outcome:
        """Send the code and wait for its reply, both within `timeout` (plus the grace an
        interrupt gets); a kernel that misses it, or answers what it was not asked, is
        replaced."""
        started = time.perf_counter()
        request = {"op": "execute", "code": code, "max_output": max_output}
        exchange = session.channel.call(request, REPLY_LIMIT)
        try:
            done, _ = await asyncio.wait({exchange}, timeout=timeout)
            timed_out = not done
            if timed_out and session.channel.delivered:
                session.kernel.interrupt()
                grace = self.settings.interrupt_grace_seconds
                done, _ = await asyncio.wait({exchange}, timeout=grace)
        except asyncio.CancelledError:
            exchange.cancel()
            session.kernel.kill()  # mid-exchange: the next call starts a new kernel
            raise
        if session.closed:
            return self._gone()
        if not done:
            exchange.cancel()
            session.kernel.kill()
            return await self._replace(session, self._overran(session, timeout), started)
        try:
            outcome = outcome_from(exchange.result())
        except ValueError as error:  # a ProtocolError, or fields the pool cannot use
            session.kernel.kill()
            return await self._replace(session, f"it sent the pool {error}", started)
        except (EOFError, OSError):
            reason = await asyncio.to_thread(session.kernel.exit_reason)
            return await self._replace(session, self._why_ended(session, reason), started)
        if timed_out:
            outcome.succeeded = False
            outcome.stderr += (
                f"{NOTE} The code ran past its {timeout:g} s timeout and was interrupted; "
                "the session's variables are kept"
            )
            outcome.stderr += await self._stop_processes(session)
        return outcome

    def _overran(self, session: Session, timeout: float) -> str:
        if not session.channel.delivered:
            return f"it did not take the code within the {timeout:g} s timeout"
        return (
            f"the code ran past its {timeout:g} s timeout and did not stop within "
            f"{self.settings.interrupt_grace_seconds:g} s of the interrupt"
        )

    async def _stop_processes(self, session: Session) -> str:
        """After a timeout, end what the code left running (a fork bomb, a busy daemon)."""
        exchange = session.channel.call({"op": "stop_processes"}, SMALL_REPLY)
        try:
            reply = await asyncio.wait_for(exchange, self.settings.interrupt_grace_seconds)
        except (TimeoutError, ValueError, EOFError, OSError):
            session.kernel.kill()  # the channel may be mid-frame: the next call restarts it
            return ".\n"
        if reply.get("stopped") is True:
            return "; the processes it started were stopped.\n"
        return ".\n"

    def _out_of_memory(self) -> str:
        return (
            f"the session ran out of memory ({self.settings.memory_mb} MiB in all, its files in "
            "/tmp, /dev/shm and /mnt/data included)"
        )

    def _why_ended(self, session: Session, reason: str) -> str:
        if session.kernel.oom_kills() > session.oom_kills:
            session.oom_kills = session.kernel.oom_kills()
            return f"its interpreter was killed: {self._out_of_memory()}"
        return f"its interpreter ended ({reason or 'it stopped answering'})"

    def _memory_note(self, session: Session) -> str:
        """Processes of a session that the kernel killed for memory while its interpreter
        lived on (a subprocess, a forked worker): said once, after the call."""
        kills = session.kernel.oom_kills()
        if kills <= session.oom_kills:
            return ""
        killed, session.oom_kills = kills - session.oom_kills, kills
        return f"{NOTE} {killed} of its processes were killed: {self._out_of_memory()}.\n"

    async def _replace(self, session: Session, reason: str, started: float) -> Outcome:
        if session.closed:  # deleted or expired while the call ran: nothing to replace
            return self._gone()
        note = (
            f"{NOTE} The session was restarted: {_hint(reason)}. Its variables and imports are "
            "lost; its files in /mnt/data were kept.\n"
        )
        try:
            kernel = await self._take_kernel()
        except SandboxError as error:
            self._discard(session)
            return Outcome(False, stderr=f"{note}{NOTE} No new session could start: {error}\n")
        if not await self._swap(session, kernel):
            return self._gone()
        elapsed = round((time.perf_counter() - started) * 1000)
        return Outcome(False, stderr=note, duration_ms=elapsed)

    async def _swap(self, session: Session, kernel: KernelProcess) -> bool:
        """Give the session `kernel` (with its files); False if it was deleted meanwhile."""
        owner = kernel.host_uid if os.geteuid() == 0 else None
        old = session.kernel.handles.data_fd
        await files.in_folder(old, files.copy_all, kernel.handles.data_fd, owner)
        if session.closed:  # deleted while the replacement started
            kernel.close()
            return False
        session.attach(kernel)
        return True

    async def interrupt(self, identifier: str) -> bool:
        """Interrupt the running call, like a kernel interrupt; False if none runs."""
        session = self.sessions.get(identifier)
        if session is None or not session.busy:
            return False
        if not session.kernel.interrupt():
            return False
        session.interrupted = session.calls
        task = asyncio.create_task(self._keep_interrupting(session, session.calls))
        self._interrupts.add(task)
        task.add_done_callback(self._interrupts.discard)
        return True

    async def _keep_interrupting(self, session: Session, call: int) -> None:
        """A signal that lands before the kernel has read the code is ignored there: repeat
        it while that same call still runs."""
        for _ in range(20):
            await asyncio.sleep(0.1)
            if session.calls != call or not session.busy:
                return
            session.kernel.interrupt()

    def stop_calls(self) -> None:
        """The pool is told to stop: end every running call now, so each answers (saying so)
        rather than being cut off when the shutdown grace runs out."""
        self.stopping = True
        for session in list(self.sessions.values()):
            if session.busy:
                self._discard(session)

    def _gone(self) -> Outcome:
        if self.stopping:
            return Outcome(False, stderr=f"{NOTE} The pool stopped during this call.\n")
        return Outcome(False, stderr=f"{NOTE} The session was deleted during this call.\n")

    def counts(self) -> dict[str, int]:
        """Sessions live (busy of them: running code), kept ready, being started, and calls
        waiting for one (a burst faster than the machine starts them)."""
        busy = sum(1 for s in self.sessions.values() if s.busy)
        return {
            "live": len(self.sessions),
            "busy": busy,
            "ready": len(self._ready),
            "starting": self._starting,
            "waiting": len(self._waiting),
        }

    @staticmethod
    def timestamp(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _hint(reason: str) -> str:
    hints = {
        "SIGXCPU": "the CPU time limit was reached",
        "CPU time limit": "the CPU time limit was reached",
        "signal 9": "the code killed it, or the kernel did when memory ran out",
    }
    for needle, hint in hints.items():
        if needle in reason:
            return f"{reason}; {hint}"
    return reason
