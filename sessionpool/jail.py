"""Isolation of one session, run inside the processes the fork server forks.

With namespaces a session is three processes: the forked child (S) makes a user namespace
mapped to the session's host uid, then new mount, PID, network, IPC, UTS and cgroup
namespaces, and builds a read-only root on a tmpfs; its child (I) is PID 1 there, mounts
/proc, pivots into the new root and stays as a small init; I's child (K) enters a second
user namespace as uid 1000 without capabilities, limits itself and runs the kernel.
"""

import os
import resource
import select
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from sessionpool import linux, seccomp

SANDBOX_UID = 1000
HOSTNAME = "sandbox"
NEW_ROOT = "/tmp"
DEVICES = ("null", "zero", "full", "random", "urandom")
TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
SESSION_FD = 3
ETC_PASSWD = (
    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    f"user:x:{SANDBOX_UID}:{SANDBOX_UID}:session user:/mnt/data:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
ETC_GROUP = f"root:x:0:\nuser:x:{SANDBOX_UID}:\nnogroup:x:65534:\n"
ETC_HOSTS = f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost\n"
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
class Limits:
    memory_mb: int = 1024
    disk_mb: int = 1024
    tmp_mb: int = 128
    max_processes: int = 64
    max_open_files: int = 256
    cpu_seconds: int = 3600


@dataclass
class Layout:
    """What a session's root holds: read-only binds of the system and of Python, small /etc."""

    binds: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    etc: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def of_this_host(cls, excluded: str | None = None) -> "Layout":
        layout = cls(binds=["/usr"])
        for name in TOP_LEVEL:
            path = f"/{name}"
            if os.path.islink(path):
                layout.links[path] = os.readlink(path)
            elif os.path.isdir(path):
                layout.binds.append(path)
        prefixes = [sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix]
        # Every import directory too (a .pth file may point outside the prefixes), but never
        # the pool's own code, nor the fork server's working directory.
        private = {os.path.realpath(p) for p in (os.getcwd(), excluded) if p}
        for entry in prefixes + [p for p in sys.path if p and os.path.isdir(p)]:
            real = os.path.realpath(entry)
            covered = any(real == b or real.startswith(b + "/") for b in layout.binds)
            if not covered and real not in private:
                layout.binds.append(real)
        layout.etc = {"passwd": ETC_PASSWD.encode(), "group": ETC_GROUP.encode()}
        layout.etc |= {"hosts": ETC_HOSTS.encode(), "hostname": f"{HOSTNAME}\n".encode()}
        for name in ("ld.so.cache", "localtime", "nsswitch.conf"):
            try:
                with open(f"/etc/{name}", "rb") as file:
                    layout.etc[name] = file.read()
            except OSError:
                pass
        return layout


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


def enter_namespaces(layout: Layout, limits: Limits, host_uid: int) -> Handles:
    """Run in S; returns only in K, fully isolated."""
    others = linux.NAMESPACE_FLAGS & ~linux.CLONE_NEWUSER
    if os.geteuid() == 0:
        # Root builds the root first: as the session's uid it could not reach a Python
        # under /root. The namespaces made next are owned by the session's user namespace.
        linux.unshare(linux.CLONE_NEWNS)
        _build_root(layout, limits, owner=host_uid)
        _become(host_uid)
        linux.unshare(linux.CLONE_NEWUSER)
        _map_ids(0, host_uid)
        linux.unshare(others)
    else:
        linux.unshare(linux.CLONE_NEWUSER)
        _map_ids(0, host_uid)
        linux.unshare(others)
        _build_root(layout, limits, owner=None)
    if os.fork():
        os._exit(0)
    return _become_init(limits)


def _become(host_uid: int) -> None:
    """As root, become the session's own host uid, so its namespace maps to that uid."""
    os.setgroups([])
    os.setresgid(host_uid, host_uid, host_uid)
    os.setresuid(host_uid, host_uid, host_uid)
    linux.prctl(linux.PR_SET_DUMPABLE, 1)


def _map_ids(inside: int, outside: int) -> None:
    linux.write_file("/proc/self/setgroups", "deny")
    linux.write_file("/proc/self/uid_map", f"{inside} {outside} 1\n")
    linux.write_file("/proc/self/gid_map", f"{inside} {outside} 1\n")


def _build_root(layout: Layout, limits: Limits, owner: int | None) -> None:
    """Assemble the session's root in a tmpfs at NEW_ROOT, read-only once done."""
    root = NEW_ROOT
    flags = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    # Descriptors first: the tmpfs mounted at NEW_ROOT may hide a Python that lives under it.
    sources = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in layout.binds}
    devices = {name: os.open(f"/dev/{name}", os.O_PATH | os.O_CLOEXEC) for name in DEVICES}
    linux.mount("tmpfs", root, "tmpfs", flags, "size=4m,mode=0755")
    for path in ("/proc", "/tmp", "/mnt/data", "/etc"):
        os.makedirs(root + path)
    # The writable mounts come before the binds, so a Python under /tmp is bound on top.
    linux.mount("tmpfs", root + "/tmp", "tmpfs", flags, f"size={limits.tmp_mb}m,mode=1777")
    data = f"size={limits.disk_mb}m,nr_inodes=65536,mode=0700"
    if owner is not None:
        data += f",uid={owner},gid={owner}"
    linux.mount("tmpfs", root + "/mnt/data", "tmpfs", flags, data)
    for path, fd in sources.items():
        os.makedirs(root + path, exist_ok=True)
        _bind_read_only(f"/proc/self/fd/{fd}", root + path)
    for path, target in layout.links.items():
        os.symlink(target, root + path)
    _build_dev(root, devices, limits)
    for name, content in layout.etc.items():
        with open(f"{root}/etc/{name}", "wb") as file:
            file.write(content)
    for fd in (*sources.values(), *devices.values()):
        os.close(fd)
    linux.mount(None, root, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | flags)


def _bind_read_only(source: str, target: str) -> None:
    linux.mount(source, target, None, linux.MS_BIND)
    keep = linux.mount_flags_of(target) | linux.MS_NOSUID | linux.MS_NODEV
    linux.mount(None, target, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | keep)


def _build_dev(root: str, devices: dict[str, int], limits: Limits) -> None:
    dev = root + "/dev"
    os.makedirs(dev)
    linux.mount("tmpfs", dev, "tmpfs", linux.MS_NOSUID | linux.MS_NOEXEC, "size=64k,mode=0755")
    for name, fd in devices.items():
        open(f"{dev}/{name}", "w").close()
        linux.mount(f"/proc/self/fd/{fd}", f"{dev}/{name}", None, linux.MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, f"{dev}/{name}")
    os.symlink("/proc/self/fd/1", f"{dev}/stdout")
    os.symlink("/proc/self/fd/2", f"{dev}/stderr")
    os.makedirs(f"{dev}/shm")
    shm_flags = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount("tmpfs", f"{dev}/shm", "tmpfs", shm_flags, f"size={limits.tmp_mb}m,mode=1777")
    remount = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | linux.MS_NOSUID
    linux.mount(None, dev, None, remount | linux.MS_NOEXEC)


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
    linux.write_file("/proc/self/oom_score_adj", "1000")
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
    supervise(kernel, status_write, finish=lambda: None)  # PID 1 ending ends them all


def _become_kernel(limits: Limits) -> None:
    """In K: uid 1000 in a user namespace of its own, no capabilities, limits, seccomp."""
    linux.unshare(linux.CLONE_NEWUSER)
    _map_ids(SANDBOX_UID, 0)
    linux.drop_capabilities()
    apply_limits(limits)
    if seccomp.supported():
        seccomp.install()
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    os.chdir("/mnt/data")


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


def supervise(kernel: int, status_write: int, finish: Callable[[], None]) -> NoReturn:
    """The session's init: reap orphans; end the session when the kernel ends, the pool
    hangs up or sends SIGTERM. `finish` ends whatever else the session still runs."""
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    poller = select.poll()
    poller.register(SESSION_FD, 0)  # only hang-up, never the data meant for the kernel
    poller.register(wake_read, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == SESSION_FD:
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
