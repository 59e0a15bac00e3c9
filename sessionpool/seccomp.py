"""A seccomp filter for sessions: Unix sockets only, no namespaces, no inotify, no kernel-admin
calls; where the host's files are in reach (the Landlock tier), no way to a host Unix socket.

One program per architecture, from the numbers in syscalls.py; a host without a table gets no
filter, and the pool then refuses to run sessions unless SESSION_POOL_ALLOW_NO_SECCOMP is set.
"""

import ctypes
import errno
import functools

from sessionpool import linux
from sessionpool.syscalls import AUDIT_ARCH, NUMBERS

X32_SYSCALL_BIT = 0x40000000
AF_UNIX = 1
SOCK_STREAM, SOCK_SEQPACKET = 1, 5
SOCK_FLAGS = 0o4000 | 0o2000000  # SOCK_NONBLOCK | SOCK_CLOEXEC, the same on every architecture

# Calls a session never needs; they fail with EPERM. Names missing from an architecture's
# table do not exist there. inotify would show which files of the shared, read-only Python a
# neighbour opens, and its instances are counted per host user.
DENIED = (
    "_sysctl", "acct", "add_key", "adjtimex", "bpf", "chroot", "clock_adjtime",
    "clock_settime", "create_module", "delete_module", "fanotify_init", "finit_module",
    "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "init_module", "inotify_init",
    "inotify_init1", "io_uring_enter", "io_uring_register", "io_uring_setup", "ioperm", "iopl",
    "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount",
    "mount_setattr", "move_mount", "name_to_handle_at", "nfsservctl", "open_by_handle_at",
    "open_tree", "perf_event_open", "pidfd_getfd", "pivot_root", "process_vm_readv",
    "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot",
    "request_key", "setdomainname", "sethostname", "setns", "settimeofday", "swapoff", "swapon",
    "sysfs", "syslog", "umount2", "unshare", "userfaultfd", "ustat", "vhangup",
)  # fmt: skip

_LD_W_ABS = 0x20
_AND_K = 0x54
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
SECCOMP_MODE_FILTER = 2
_NR, _ARCH, _ARG0, _ARG1 = 0, 4, 16, 24

Instruction = tuple[int, int, int, int]


def _errno(code: int) -> int:
    return 0x00050000 | code


class _Instruction(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Instruction))]


def supported() -> bool:
    return linux.MACHINE in NUMBERS


def build(machine: str, host_files: bool = False) -> list[Instruction]:
    """The filter as (code, jt, jf, k) instructions. `host_files`: the session shares the
    host's file system (Landlock tier), whose Unix sockets must stay out of reach."""
    numbers = NUMBERS[machine]
    program = [(_LD_W_ABS, 0, 0, _ARCH), (_JEQ, 1, 0, AUDIT_ARCH[machine])]
    program += [(_RET, 0, 0, RET_KILL_PROCESS), (_LD_W_ABS, 0, 0, _NR)]
    if machine == "x86_64":
        program += [(_JGE, 0, 1, X32_SYSCALL_BIT), (_RET, 0, 0, _errno(errno.ENOSYS))]
    for number in sorted(numbers[name] for name in DENIED if name in numbers):
        program += _when(number, [(_RET, 0, 0, _errno(errno.EPERM))])
    # clone3 passes flags in memory the filter cannot read: glibc then falls back to clone.
    program += _when(numbers["clone3"], [(_RET, 0, 0, _errno(errno.ENOSYS))])
    for call in ("socket", "socketpair"):
        program += _when(numbers[call], _unix_sockets_only(host_files))
    if host_files:
        # A connect() cannot be told from here whether it names a path: none at all.
        program += _when(numbers["connect"], [(_RET, 0, 0, _errno(errno.EACCES))])
    program += _when(
        numbers["clone"],
        [
            (_LD_W_ABS, 0, 0, _ARG0),
            (_JSET, 0, 1, linux.NAMESPACE_FLAGS),
            (_RET, 0, 0, _errno(errno.EPERM)),
            (_RET, 0, 0, RET_ALLOW),
        ],
    )
    return [*program, (_RET, 0, 0, RET_ALLOW)]


def _when(number: int, body: list[Instruction]) -> list[Instruction]:
    """`body` (which ends in a return on every path) for that call; the rest skip it."""
    return [(_JEQ, 0, len(body), number), *body]


def _unix_sockets_only(host_files: bool) -> list[Instruction]:
    """AF_UNIX only; sharing the host's files, also only stream and seqpacket sockets: a
    datagram socket reaches a path socket with sendto() or sendmsg() alone."""
    family = [
        (_LD_W_ABS, 0, 0, _ARG0),
        (_JEQ, 1, 0, AF_UNIX),
        (_RET, 0, 0, _errno(errno.EAFNOSUPPORT)),
    ]
    if not host_files:
        return [*family, (_RET, 0, 0, RET_ALLOW)]
    return [
        *family,
        (_LD_W_ABS, 0, 0, _ARG1),
        (_AND_K, 0, 0, ~SOCK_FLAGS & 0xFFFFFFFF),
        (_JEQ, 2, 0, SOCK_STREAM),
        (_JEQ, 1, 0, SOCK_SEQPACKET),
        (_RET, 0, 0, _errno(errno.EACCES)),
        (_RET, 0, 0, RET_ALLOW),
    ]


@functools.cache
def _program(host_files: bool) -> tuple[_Program, ctypes.Array]:
    """The loadable program, and the array it points to (kept alive with it)."""
    instructions = build(linux.MACHINE, host_files)
    array = (_Instruction * len(instructions))(*[_Instruction(*i) for i in instructions])
    return _Program(len(instructions), array), array


def prepare() -> None:
    """Build the programs now, in the fork server before it forks: a session then only loads
    one (building it there wrote to ~0.5 MiB of the fork server's pages, each then copied)."""
    for host_files in (False, True):
        _program(host_files)


def install(host_files: bool = False) -> None:
    """Load the filter into this process; it is inherited and can never be removed."""
    program, _ = _program(host_files)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.prctl_pointer(linux.PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program))
