"""Isolation of one session, run inside the processes the fork server forks.

With namespaces a session is two processes: the fork server forks I straight into a new user
namespace mapped to the session's host uid, with new mount, PID, network, IPC and UTS
namespaces, so that I is PID 1 there; I joins the session's cgroups and a cgroup namespace of
its own, builds a read-only root on a tmpfs, mounts /proc, pivots into the new root, forks K
and replaces itself with a small init (session_init.c) that keeps nothing of the interpreter's
memory; K enters a second user namespace as uid 1000 without capabilities, limits itself and
runs the kernel.
"""

import contextlib
import os
import resource
import select
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from sessionpool import landlock, linux, rootfs, seccomp
from sessionpool.rootfs import HOSTNAME, NEW_ROOT, SANDBOX_UID, Layout, Limits

SESSION_FD = 3
# The session's init, compiled from session_init.c into the sessions' environment by make.
SMALL_INIT = os.path.join(sys.prefix, "bin", "session-init")
# Where a session may open files for writing (Landlock, where the kernel has it): not /proc,
# so its OOM score and the rest of its process's settings stay as the pool made them.
WRITABLE = ["/mnt/data", "/tmp", "/dev"]
KERNEL_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/mnt/data",
    "USER": "user",
    "LANG": "C.UTF-8",
    "TMPDIR": "/tmp",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp/mpl",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",
}


@dataclass
class Handles:
    """Descriptors a session hands to the pool: what to interrupt, to kill, its files."""

    kernel_pidfd: int
    root_pidfd: int
    data_fd: int
    status_fd: int
    layers: dict[str, bool] | None = None

    def as_list(self) -> list[int]:
        return [self.kernel_pidfd, self.root_pidfd, self.data_fd, self.status_fd]


def join(cgroup_procs: list[str]) -> None:
    """First thing in a forked session: into its cgroups, before it allocates anything, and an
    OOM score of 1000. Written with the root pool's CAP_SYS_RESOURCE, 1000 is also the floor:
    nothing in the session can lower it again."""
    for path in cgroup_procs:
        linux.write_file(path, "0")
    linux.write_file("/proc/self/oom_score_adj", "1000")


def fork_session(host_uid: int, limits: Limits) -> tuple[int, int | None]:
    """In the fork server: fork I into the session's new namespaces (all made by the one fork:
    its user namespace first, which owns the others), like os.fork. The parent maps the
    child's root to `host_uid` and gives it an OOM score of 1000 (a floor, written as root)
    before the child goes on. The cgroup namespace comes later, once the child is in the
    session's groups. Returns the pid, and in the child the descriptor of its /mnt/data
    mount when the pool is root (see rootfs.data_mount)."""
    data = rootfs.data_mount(limits, host_uid) if os.geteuid() == 0 else None
    mapped_read, mapped_write = os.pipe2(os.O_CLOEXEC)
    try:
        pid = linux.fork_into_namespaces(linux.NAMESPACE_FLAGS & ~linux.CLONE_NEWCGROUP)
    except OSError:
        for fd in (mapped_read, mapped_write, data):
            if fd is not None:
                os.close(fd)
        raise
    if pid == 0:
        os.close(mapped_write)
        if os.read(mapped_read, 1) != b"1":
            os._exit(71)  # the parent could not map it (and says so)
        os.close(mapped_read)
        return 0, data
    if data is not None:
        os.close(data)
    os.close(mapped_read)
    try:
        linux.write_file(f"/proc/{pid}/oom_score_adj", "1000")
        _map_ids(pid, 0, host_uid)
        os.write(mapped_write, b"1")
    except OSError:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(mapped_write)
    return pid, None


def enter_namespaces(layout: Layout, limits: Limits, data: int | None) -> Handles:
    """Run in I, forked by `fork_session` and in the session's cgroups; returns only in K,
    fully isolated."""
    # Root of the user namespace, which is the session's host uid outside. A uid change
    # makes the process undumpable: its /proc files would then be root's, not its own.
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    linux.prctl(linux.PR_SET_DUMPABLE, 1)
    linux.unshare(linux.CLONE_NEWCGROUP)
    rootfs.build_root(layout, limits, data)
    return _become_init(limits)


def _map_ids(pid: int | str, inside: int, outside: int) -> None:
    linux.write_file(f"/proc/{pid}/setgroups", "deny")
    linux.write_file(f"/proc/{pid}/uid_map", f"{inside} {outside} 1\n")
    linux.write_file(f"/proc/{pid}/gid_map", f"{inside} {outside} 1\n")


def _become_init(limits: Limits) -> Handles:
    """In I, PID 1 of the session: finish the root, fork the kernel, then reap until it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A fresh bind of the new root is not locked, so it can become the root.
    linux.mount(NEW_ROOT, NEW_ROOT, None, linux.MS_BIND | linux.MS_REC)
    flags = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
    linux.mount("proc", NEW_ROOT + "/proc", "proc", flags)
    os.chdir(NEW_ROOT)
    linux.pivot_root(".", ".")
    linux.umount(".", linux.MNT_DETACH)
    os.chdir("/")
    # The kernel's own user namespace is the last one: nothing inside can make another.
    linux.write_file("/proc/sys/user/max_user_namespaces", "1")
    socket.sethostname(HOSTNAME)
    handles = Handles(
        kernel_pidfd=-1,
        root_pidfd=os.pidfd_open(os.getpid()),
        data_fd=os.open("/mnt/data", os.O_RDONLY | os.O_DIRECTORY),
        status_fd=-1,
    )
    status_read, status_write = os.pipe()
    handles.status_fd = status_read
    kernel = os.fork()
    if kernel == 0:
        os.close(status_write)
        _become_kernel(limits)
        handles.kernel_pidfd = os.pidfd_open(os.getpid())
        return handles
    for fd in (handles.root_pidfd, handles.data_fd, status_read):
        os.close(fd)
    _become_small_init(kernel, status_write)
    supervise(kernel, status_write, finish=lambda: None)  # PID 1 ending ends them all


def _become_small_init(kernel: int, status_write: int) -> None:
    """Go on as session_init.c (the same as `supervise`), which keeps nothing of the fork
    server's memory; returns only where it is not built or cannot run."""
    if not os.access(SMALL_INIT, os.X_OK):
        return
    os.set_inheritable(SESSION_FD, False)
    os.set_inheritable(status_write, True)
    with contextlib.suppress(OSError):
        os.execve(SMALL_INIT, ["session-init", str(kernel), str(status_write)], {})
    os.set_inheritable(status_write, False)


def _become_kernel(limits: Limits) -> None:
    """In K: uid 1000 in a user namespace of its own, no capabilities, limits, seccomp."""
    linux.unshare(linux.CLONE_NEWUSER)
    _map_ids("self", SANDBOX_UID, 0)
    linux.drop_capabilities()
    apply_limits(limits)
    landlock.restrict_writes(WRITABLE)
    if seccomp.supported():
        seccomp.install()
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    os.chdir("/mnt/data")


def _read(path: str) -> str:
    with open(path) as file:
        return file.read().strip()


def _writes_confined() -> bool:
    try:
        linux.write_file("/proc/self/oom_score_adj", "1000")
    except PermissionError:
        return True
    return False


def proc_status() -> dict[str, str]:
    with open("/proc/self/status") as file:
        lines = file.read().splitlines()
    return {k: v.strip() for k, v in (line.split(":", 1) for line in lines if ":" in line)}


def applied_layers() -> dict[str, bool]:
    """What this kernel process runs under, as the pool logs it at start-up."""
    status = proc_status()
    return {
        "user namespace, uid 1000 in the session": os.getuid() == SANDBOX_UID,
        "mount namespace, read-only root, private /tmp and /mnt/data": True,
        "pid namespace with its own init": True,
        "network namespace without interfaces": True,
        "ipc, uts and cgroup namespaces": True,
        "no capabilities": int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0,
        "no_new_privs": status["NoNewPrivs"] == "1",
        "seccomp filter": status["Seccomp"] == "2",
        "writes only to /mnt/data, /tmp and /dev (landlock)": _writes_confined(),
        "oom_score_adj 1000": _read("/proc/self/oom_score_adj") == "1000",
        "resource limits": True,
    }


def apply_limits(limits: Limits, count_processes: bool = True) -> None:
    mib = 1024 * 1024
    address_space = _current_address_space() + limits.memory_mb * mib
    cpu = limits.cpu_seconds
    for kind, value in (
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_NOFILE, limits.max_open_files),
        (resource.RLIMIT_FSIZE, limits.disk_mb * mib),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 0),
        (resource.RLIMIT_MSGQUEUE, 0),
    ):
        resource.setrlimit(kind, (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    if count_processes:
        # Counted per user namespace, so per session; set only once that namespace exists.
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))


def _current_address_space() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def supervise(
    kernel: int, status_write: int, finish: Callable[[], None], stop_on_sigterm: bool = False
) -> NoReturn:
    """The session's init: reap orphans; end the session when the kernel ends, the pool
    closes the status pipe (or dies), or, if asked, on SIGTERM. `finish` ends what else runs.

    As PID 1 of a namespace it installs no SIGTERM handler: the session's own processes
    could then use it to end the session; the pool kills it with SIGKILL instead.

    The pool alone holds the pipe's read end, so its going away shows as an error on the
    write end; the session's socket is not watched, so calls never wake this process."""
    os.close(SESSION_FD)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stopping = []
    if stop_on_sigterm:
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    poller = select.poll()
    poller.register(status_write, 0)  # only POLLERR: no reader left
    poller.register(wake_read, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == status_write:
                stopping.append(True)
            else:
                while os.read(wake_read, 512) == 512:
                    pass
        while not stopping:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == kernel:
                with contextlib.suppress(OSError):
                    os.write(status_write, describe_exit(status).encode())
                stopping.append(True)
        if stopping:
            finish()
            os._exit(0)


def describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return f"killed by signal {number} ({signal.strsignal(number)})"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
