"""The pool's side of the sandbox: starts the fork server, probes isolation, spawns kernels."""

import contextlib
import json
import logging
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from sessionpool import jail, linux, protocol, resources, rootfs, runtime, seccomp
from sessionpool.cgroups import CgroupError, Cgroups, Group
from sessionpool.settings import PoolSettings

log = logging.getLogger("sessionpool")

UID_SPREAD = 100_000_000
READY_TIMEOUT = 180.0
HELLO_TIMEOUT = 30.0
TIERS = {
    "auto": ("namespaces", "landlock"),
    "namespaces": ("namespaces",),
    "landlock": ("landlock",),
    "none": ("none",),
}
MISSING_LAYERS = {
    "landlock": [
        "namespaces: not available; sessions share the host's network stack and /proc "
        "(unreadable under Landlock), and work in a folder of their own instead of /mnt/data",
        "host processes: a session can tell which host pids exist (kill() answers EPERM for "
        "them, ESRCH for none), though it cannot signal or read them",
        "host paths: Landlock does not cover stat(); a session can tell whether a host path "
        "exists and see its size and times, though it cannot read, list or write it",
        "disk quota: not enforced; only the size of each file is limited (SESSION_POOL_DISK_MB)",
    ],
    "none": ["no isolation: code runs as the pool's user with the host's files and network"],
}


class SandboxError(RuntimeError):
    """The sandbox could not start a kernel."""


@dataclass
class KernelProcess:
    """One sandboxed interpreter, as the pool holds it: a channel and four descriptors."""

    channel: socket.socket
    handles: jail.Handles
    host_uid: int
    workdir: str | None = None
    group: Group | None = None
    cgroups: Cgroups | None = None

    def interrupt(self) -> bool:
        return _signal(self.handles.kernel_pidfd, signal.SIGINT)

    def kill(self) -> None:
        # A PID namespace dies with its init; a supervisor without one must first end the
        # session's other processes itself, so it gets SIGTERM.
        _signal(self.handles.root_pidfd, signal.SIGTERM if self.workdir else signal.SIGKILL)

    def exit_reason(self, wait: float = 1.0) -> str:
        """Why the session ended, as its init reports it just before it exits (or "")."""
        try:
            poller = select.poll()
            poller.register(self.handles.status_fd, select.POLLIN)
            if not poller.poll(wait * 1000):
                return ""
            return os.read(self.handles.status_fd, 512).decode(errors="replace")
        except OSError:
            return ""

    def oom_kills(self) -> int:
        """How many of its processes the kernel killed for want of memory (0 without cgroups)."""
        return self.cgroups.oom_kills(self.group) if self.group and self.cgroups else 0

    def close(self) -> None:
        self.kill()
        self.channel.close()
        for fd in self.handles.as_list():
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.workdir:
            # A folder of many files takes a while: never on the caller's (the event loop's) time.
            threading.Thread(target=shutil.rmtree, args=(self.workdir, True), daemon=True).start()
        if self.group and self.cgroups:
            self.cgroups.release(self.group)


def _signal(pidfd: int, signum: int) -> bool:
    try:
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except (ProcessLookupError, OSError):
        return False


def _why_ended(process: subprocess.Popen) -> str:
    """Why the fork server closed its channel, from its exit status: a signal (the pool's
    process group told to stop, the OOM killer) leaves nothing on stderr to explain it."""
    try:
        code = process.wait(5)
    except subprocess.TimeoutExpired:
        return "it closed its channel but still runs"
    if code < 0:
        return f"it was killed by signal {-code} ({signal.strsignal(-code)})"
    return f"it exited with status {code} (its error, if any, is on the pool's stderr)"


class Sandbox:
    """Owns the fork server process; `spawn` is blocking and thread-safe."""

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self.isolation = ""
        self.layers: dict[str, bool] = {}
        self.info: dict = {}
        self.resources = resources.Resources(None, settings.max_sessions)
        self._runtime: Path | None = None
        self._control: socket.socket | None = None
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        # Several pools on one host (tests, a service and a developer's) must not share uids.
        self.first_uid = settings.sandbox_uid_base + secrets.randbelow(UID_SPREAD)

    def start(self) -> None:
        """Take cgroups, start the fork server in them, then pick the strongest isolation
        that really works. A start that fails leaves nothing behind."""
        try:
            self._runtime = Path(tempfile.mkdtemp(prefix="sessionpool-"))
            try:
                self.resources = resources.take(self.settings)
                self._start_fork_server()
                self.isolation, self.layers = self._pick_tier()
                resources.fit(self.resources, self.settings, self.isolation)
            except ValueError as error:
                raise SandboxError(str(error)) from error
        except BaseException:
            self.stop()
            raise
        self._log_layers()

    def _pick_tier(self) -> tuple[str, dict[str, bool]]:
        for tier in TIERS[self.settings.isolation]:
            try:
                return tier, self._probe(tier)
            except SandboxError as error:
                log.warning("isolation %s is not available here: %s", tier, error)
        raise SandboxError(
            "no isolation is available on this host (see the warnings above); set "
            "SESSION_POOL_ISOLATION=none to run code without any isolation, at your own risk"
        )

    def _start_fork_server(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        limits = rootfs.Limits(
            memory_mb=self.resources.process_memory_mb(self.settings.memory_mb),
            disk_mb=self.settings.disk_mb,
            tmp_mb=self.settings.tmp_mb,
            max_processes=self.settings.max_processes,
            max_open_files=self.settings.max_open_files,
            cpu_seconds=self.settings.cpu_seconds,
        )
        config = json.dumps({"limits": asdict(limits)})
        try:
            command, env = runtime.fork_server(child.fileno(), config, str(self._runtime))
        except runtime.MissingEnvironment as error:
            raise SandboxError(str(error)) from error
        self._process = subprocess.Popen(
            command, env=env, cwd=self._runtime, pass_fds=[child.fileno()], stdin=subprocess.DEVNULL
        )
        child.close()
        self._control = parent
        parent.settimeout(READY_TIMEOUT)
        try:
            self.info, _ = protocol.recv(parent)
        except (EOFError, OSError) as error:
            why = _why_ended(self._process) if isinstance(error, EOFError) else error
            raise SandboxError(f"the fork server did not start: {why}") from error
        parent.settimeout(None)
        log.info(
            "fork server ready: Python %s, data stack preloaded in %d ms%s",
            self.info["python"],
            self.info["preload_ms"],
            f" (missing: {', '.join(self.info['missing'])})" if self.info["missing"] else "",
        )
        if self.info["view"] != "neutral":
            log.warning("sessions see their Python at the %s", self.info["view"])
        if not self.info["small_init"]:
            log.warning(
                "each session's init is a copy of the interpreter (about 2.5 MiB more per "
                "session): %s",
                runtime.SMALL_INIT_HINT,
            )

    def _probe(self, tier: str) -> dict[str, bool]:
        if tier != "none" and not seccomp.supported() and not self.settings.allow_no_seccomp:
            raise SandboxError(
                f"there is no seccomp filter for {linux.MACHINE} (sessions would run without "
                "one); set SESSION_POOL_ALLOW_NO_SECCOMP=true to run them anyway"
            )
        uid = self.first_uid if os.geteuid() == 0 else os.geteuid()
        kernel, layers = self._spawn(tier, uid, report_layers=True)
        # Preloaded modules work even when the installation is unreadable; later imports not.
        binds = self.info["binds"]
        code = f"import os\nstr([p for p in {binds!r} if not os.access(p, os.R_OK | os.X_OK)])"
        kernel.channel.settimeout(HELLO_TIMEOUT)
        try:
            protocol.send(kernel.channel, {"op": "execute", "code": code, "max_output": 4096})
            reply, _ = protocol.recv(kernel.channel)
        except (EOFError, OSError) as error:
            raise SandboxError(f"the probe session failed: {error}") from error
        finally:
            kernel.close()
        if reply.get("status") != "ok":
            raise SandboxError(f"the probe session failed: {reply.get('stderr')}")
        if reply.get("value") != ["[]"]:
            raise SandboxError(
                f"the sessions' uid cannot read the Python installation: {reply.get('value')}; "
                "install Python where every user can read it (under /usr or /opt)"
            )
        return layers

    def missing_layers(self) -> list[str]:
        """What this tier and host cannot give a session, in words."""
        missing = [layer for layer, on in self.layers.items() if not on]
        return missing + MISSING_LAYERS.get(self.isolation, [])

    def _log_layers(self) -> None:
        for layer, on in self.layers.items():
            if on:
                log.info("isolation layer on: %s", layer)
        for missing in self.missing_layers():
            log.warning("isolation layer missing: %s", missing)
        for bound in self.resources.bounded:
            log.info("bounded: %s", bound)
        for gap in self.resources.unbounded:
            log.warning("not bounded: %s", gap)

    def spawn(self, host_uid: int, empty: bool = False) -> KernelProcess:
        """Fork a new isolated kernel (`empty`: with nothing preloaded); blocks for the
        ~20 ms it takes, so call it in a thread."""
        kernel, _ = self._spawn(self.isolation, host_uid, empty)
        return kernel

    def _spawn(
        self, tier: str, host_uid: int, empty: bool = False, report_layers: bool = False
    ) -> tuple[KernelProcess, dict]:
        """A kernel, and (`report_layers`) the isolation layers it runs under, as it checked
        them itself."""
        groups, group = self.resources.cgroups, None
        if groups is not None:
            # The init (or supervisor) counts as a task too.
            try:
                group = groups.create(self.settings.memory_mb, self.settings.max_processes + 2)
            except CgroupError as error:
                raise SandboxError(str(error)) from error
        try:
            kernel, layers = self._start_kernel(tier, host_uid, group, empty, report_layers)
        except BaseException:
            if group and groups:
                groups.release(group)
            raise
        kernel.group, kernel.cgroups = group, groups
        return kernel, layers

    def _start_kernel(
        self, tier: str, host_uid: int, group: Group | None, empty: bool, report_layers: bool
    ) -> tuple[KernelProcess, dict]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        workdir = None
        if tier != "namespaces" and self._runtime is not None:
            workdir = tempfile.mkdtemp(prefix="session-", dir=self._runtime)
            if os.geteuid() == 0:
                # The session's own uid must pass through to its folders (which it owns).
                os.chmod(self._runtime, 0o711)
                os.chmod(workdir, 0o711)
        request = {
            "op": "spawn",
            "isolation": tier,
            "host_uid": host_uid,
            "workdir": workdir,
            "cgroups": group.procs if group else [],
            "empty": empty,
            "report_layers": report_layers,
        }
        try:
            with self._lock:
                if self._control is None:
                    raise SandboxError("the sandbox is stopped")
                protocol.send(self._control, request, [theirs.fileno()])
                protocol.recv(self._control)
            theirs.close()
            ours.settimeout(HELLO_TIMEOUT)
            hello, fds = protocol.recv(ours, maxfds=4)
        except (EOFError, OSError, SandboxError) as error:
            theirs.close()
            ours.close()
            if isinstance(error, SandboxError):
                raise
            raise SandboxError(f"the session did not start: {error}") from error
        if hello.get("op") != "hello" or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            ours.close()
            raise SandboxError(hello.get("message", "the session did not start").strip())
        ours.settimeout(None)
        kernel = KernelProcess(
            ours, jail.Handles(fds[0], fds[1], fds[2], fds[3]), host_uid, workdir
        )
        return kernel, hello["layers"]

    def sweep(self) -> None:
        """Remove the cgroups of sessions whose processes have exited since they closed."""
        if self.resources.cgroups is not None:
            self.resources.cgroups.sweep()

    def stop(self) -> None:
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None
        if self._process is not None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self.resources.cgroups is not None:
            self.resources.cgroups.close()
        if self._runtime is not None:
            shutil.rmtree(self._runtime, ignore_errors=True)
