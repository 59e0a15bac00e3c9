"""Isolation without namespaces: Landlock, seccomp, a uid per session (as root) and rlimits.

The forked child (S) becomes a subreaper supervising the kernel (K), so whatever the code
starts stays S's descendant and ends with the session. With `landlock=False` (isolation
`none`) only the supervision and the limits remain.
"""

import contextlib
import os
import signal

from sessionpool import jail, landlock, linux, rootfs, seccomp

OWN_UID = "separate host uid per session"
SCOPED_SIGNALS = "landlock: signals and abstract sockets scoped to the session"


def enter_confined(
    layout: rootfs.Layout, limits: rootfs.Limits, host_uid: int, workdir: str, confine: bool
) -> jail.Handles:
    """Run in S; returns only in K."""
    data, tmp = os.path.join(workdir, "data"), os.path.join(workdir, "tmp")
    for path in (data, tmp):
        os.mkdir(path, 0o700)
        if os.geteuid() == 0:
            os.chown(path, host_uid, host_uid)
    os.setsid()
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    handles = jail.Handles(-1, os.pidfd_open(os.getpid()), os.open(data, os.O_RDONLY), -1)
    handles.status_fd, status_write = os.pipe()
    kernel = os.fork()
    if kernel == 0:
        os.close(status_write)
        handles.layers = _become_kernel(layout, limits, host_uid, data, tmp, confine)
        handles.kernel_pidfd = os.pidfd_open(os.getpid())
        return handles
    for fd in (handles.root_pidfd, handles.data_fd, handles.status_fd):
        os.close(fd)
    jail.supervise(kernel, status_write, finish=_kill_descendants, stop_on_sigterm=True)


def _become_kernel(
    layout: rootfs.Layout, limits: rootfs.Limits, host_uid: int, data: str, tmp: str, confine: bool
) -> dict[str, bool]:
    """In K: its own uid (as root), Landlock, limits, seccomp; returns the layers applied."""
    separate_uid = confine and os.geteuid() == 0 and host_uid != 0
    if separate_uid:
        os.setgroups([])
        os.setresgid(host_uid, host_uid, host_uid)
        os.setresuid(host_uid, host_uid, host_uid)
    os.chdir(data)
    # With one uid per session the process count is that session's; without, it would
    # count the pool's own user, so it is left out.
    jail.apply_limits(limits, count_processes=separate_uid)
    enforced = {"files": False, "tcp": False, "signals and abstract sockets": False}
    if confine:
        devices = [f"/dev/{d}" for d in ("zero", "random", "urandom")]
        etc = [f"/etc/{name}" for name in layout.etc if name in ("ld.so.cache", "localtime")]
        enforced = landlock.restrict(layout.binds + devices + etc, [data, tmp, "/dev/null"])
    filtered = confine and seccomp.supported()
    if filtered:
        seccomp.install(host_files=True)
    return {
        "landlock: file allow-list": enforced["files"],
        "landlock: no TCP": enforced["tcp"],
        SCOPED_SIGNALS: enforced["signals and abstract sockets"],
        OWN_UID: separate_uid,
        "process limit per session": separate_uid,
        "no_new_privs": confine,
        "seccomp filter": filtered,
        "no connect() and no datagram sockets, so no host Unix socket (seccomp)": filtered,
        "resource limits": True,
    }


def _kill_descendants() -> None:
    """End everything the session started: as a subreaper, S inherits every orphan."""
    me = os.getpid()
    for _ in range(100):
        found = linux.descendants(me)
        if not found:
            return
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
