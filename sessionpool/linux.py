"""Thin ctypes wrappers for the Linux calls the sandbox needs and Python 3.11 lacks."""

import ctypes
import functools
import os
import platform
import signal

from sessionpool.syscalls import NUMBERS

_libc = ctypes.CDLL(None, use_errno=True)
# For the one call during which no other Python code may run, not even another thread's.
_libc_holding_gil = ctypes.PyDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
)

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

MADV_COLLAPSE = 25
HUGE_PAGE = 2 * 1024 * 1024

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

# statvfs f_flag bit -> the mount flag a bind remount must keep (the kernel locks them).
_STATVFS_TO_MS = {
    os.ST_RDONLY: MS_RDONLY,
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}

MACHINE = platform.machine()


def _check(result: int, what: str) -> int:
    if result == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def fork_into_namespaces(flags: int) -> int:
    """os.fork() with CLONE_NEW* `flags`: the child starts in new namespaces (PID 1 of a new
    PID namespace). Like os.fork, with the interpreter's lock held throughout and its at-fork
    steps (handlers registered with os.register_at_fork included) run around the clone."""
    number = NUMBERS[MACHINE]["clone"]
    zero = ctypes.c_ulong(0)
    ctypes.pythonapi.PyOS_BeforeFork()
    pid = _libc_holding_gil.syscall(
        number, ctypes.c_ulong(flags | signal.SIGCHLD), zero, zero, zero, zero
    )
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()
        return 0
    errno = ctypes.get_errno()
    ctypes.pythonapi.PyOS_AfterFork_Parent()
    if pid == -1:
        raise OSError(errno, f"clone: {os.strerror(errno)}")
    return pid


FSOPEN_CLOEXEC = 1
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
FSMOUNT_CLOEXEC = 1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100


def detached_mount(fstype: str, options: dict[str, str], attributes: int) -> int:
    """A new file system, not yet mounted anywhere (fsopen, fsconfig, fsmount): its descriptor,
    which `attach_mount` mounts, in this or another mount namespace."""
    fs = _check(
        _libc.syscall(NUMBERS[MACHINE]["fsopen"], fstype.encode(), FSOPEN_CLOEXEC), "fsopen"
    )
    try:
        config = NUMBERS[MACHINE]["fsconfig"]
        for key, value in options.items():
            _check(
                _libc.syscall(config, fs, FSCONFIG_SET_STRING, key.encode(), value.encode(), 0),
                f"fsconfig {key}",
            )
        _check(_libc.syscall(config, fs, FSCONFIG_CMD_CREATE, None, None, 0), "fsconfig create")
        return _check(
            _libc.syscall(NUMBERS[MACHINE]["fsmount"], fs, FSMOUNT_CLOEXEC, attributes), "fsmount"
        )
    finally:
        os.close(fs)


def attach_mount(mount_fd: int, target: str) -> None:
    number = NUMBERS[MACHINE]["move_mount"]
    empty, flags = ctypes.c_char_p(b""), MOVE_MOUNT_F_EMPTY_PATH
    _check(
        _libc.syscall(number, mount_fd, empty, AT_FDCWD, target.encode(), flags),
        f"move_mount to {target}",
    )


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    def arg(text):
        return text.encode() if text is not None else None

    result = _libc.mount(arg(source), arg(target), arg(fstype), ctypes.c_ulong(flags), arg(data))
    _check(result, f"mount {source} on {target}")


def umount(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    number = NUMBERS[MACHINE]["pivot_root"]
    _check(_libc.syscall(number, new_root.encode(), put_old.encode()), "pivot_root")


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    return _check(
        _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), 0, 0),
        f"prctl {option}",
    )


def prctl_pointer(option: int, arg2: int, pointer) -> None:
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), pointer, 0, 0), "prctl")


def collapse_into_huge_pages() -> None:
    """Back this process's anonymous memory with transparent huge pages (MADV_COLLAPSE, Linux
    6.1+; elsewhere nothing changes), 2 MiB block by block (one failing block does not stop
    the rest) in the regions that are mostly in use (a block is filled whole). A fork then
    copies one entry per 2 MiB instead of 512, and a child's exit drops as few; a child that
    writes still copies only the 4 KiB pages it writes."""
    for start, end in _mostly_used_anonymous_regions():
        for block in range(-(-start // HUGE_PAGE) * HUGE_PAGE, end - HUGE_PAGE + 1, HUGE_PAGE):
            _libc.madvise(ctypes.c_void_p(block), ctypes.c_size_t(HUGE_PAGE), MADV_COLLAPSE)


def _mostly_used_anonymous_regions() -> list[tuple[int, int]]:
    """(start, end) of the private, writable, anonymous regions (the heap included) of this
    process of which at least half is in memory, from /proc/self/smaps."""
    regions: list[tuple[int, int]] = []
    candidate = None
    with open("/proc/self/smaps") as file:
        for line in file:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                start, end = (int(address, 16) for address in fields[0].split("-"))
                name = fields[5] if len(fields) > 5 else ""
                anonymous = fields[1] == "rw-p" and name in ("", "[heap]")
                candidate = (start, end) if anonymous else None
            elif fields[0] == "Anonymous:" and candidate:
                start, end = candidate
                if int(fields[1]) * 1024 * 2 >= end - start:
                    regions.append(candidate)
    return regions


def mount_flags_of(path: str) -> int:
    """The flags of the mount holding `path`, which a read-only bind remount must keep."""
    flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in _STATVFS_TO_MS.items() if flags & st)


@functools.cache
def _capability_drop() -> tuple[int, ctypes.Array, ctypes.Array]:
    """The last capability's number, and capset's arguments: _LINUX_CAPABILITY_VERSION_3 for
    this thread, and all three sets empty."""
    with open("/proc/sys/kernel/cap_last_cap") as file:
        last = int(file.read())
    return last, (ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()


def prepare_capability_drop() -> None:
    """Read and build what `drop_capabilities` needs once, in the fork server before it forks:
    a session then neither reads /proc nor makes ctypes objects for it (pages it would copy)."""
    _capability_drop()


def drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable sets."""
    last, header, data = _capability_drop()
    for cap in range(last + 1):
        prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    _check(_libc.syscall(NUMBERS[MACHINE]["capset"], header, data), "capset")


def write_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def process_tree() -> dict[int, list[int]]:
    """Parent pid -> live (not zombie) children, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(root: int) -> list[int]:
    """Every live process below `root`, parents before their children."""
    children = process_tree()
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
