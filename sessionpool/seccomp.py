"""A seccomp filter for sessions: Unix sockets only, no namespaces, no kernel-admin calls."""

import ctypes
import errno

from sessionpool import linux

AUDIT_ARCH = {"x86_64": 0xC000003E}
X32_SYSCALL_BIT = 0x40000000
AF_UNIX = 1

# x86_64 numbers of the calls a session never needs; they fail with EPERM.
DENIED = {
    "ptrace": 101,
    "syslog": 103,
    "ustat": 136,
    "sysfs": 139,
    "vhangup": 153,
    "pivot_root": 155,
    "_sysctl": 156,
    "adjtimex": 159,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "create_module": 174,
    "init_module": 175,
    "delete_module": 176,
    "get_kernel_syms": 177,
    "query_module": 178,
    "quotactl": 179,
    "nfsservctl": 180,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_getfd": 438,
    "mount_setattr": 442,
    "quotactl_fd": 443,
}
SOCKET, SOCKETPAIR, CLONE, CLONE3 = 41, 53, 56, 435

_LD_W_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
SECCOMP_MODE_FILTER = 2
_NR, _ARCH, _ARG0 = 0, 4, 16


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
    return linux.MACHINE in AUDIT_ARCH


def build() -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions."""
    program = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ, 1, 0, AUDIT_ARCH[linux.MACHINE]),
        (_RET, 0, 0, RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, _NR),
        (_JGE, 0, 1, X32_SYSCALL_BIT),
        (_RET, 0, 0, _errno(errno.ENOSYS)),
    ]
    for number in sorted(DENIED.values()):
        program += [(_JEQ, 0, 1, number), (_RET, 0, 0, _errno(errno.EPERM))]
    # clone3 passes flags in memory the filter cannot read: glibc then falls back to clone.
    program += [(_JEQ, 0, 1, CLONE3), (_RET, 0, 0, _errno(errno.ENOSYS))]
    for number in (SOCKET, SOCKETPAIR):
        program += [
            (_JEQ, 0, 4, number),
            (_LD_W_ABS, 0, 0, _ARG0),
            (_JEQ, 0, 1, AF_UNIX),
            (_RET, 0, 0, RET_ALLOW),
            (_RET, 0, 0, _errno(errno.EAFNOSUPPORT)),
        ]
    program += [
        (_JEQ, 0, 4, CLONE),
        (_LD_W_ABS, 0, 0, _ARG0),
        (_JSET, 0, 1, linux.NAMESPACE_FLAGS),
        (_RET, 0, 0, _errno(errno.EPERM)),
        (_RET, 0, 0, RET_ALLOW),
        (_RET, 0, 0, RET_ALLOW),
    ]
    return program


def install() -> None:
    """Load the filter into this process; it is inherited and can never be removed."""
    instructions = build()
    array = (_Instruction * len(instructions))(*[_Instruction(*i) for i in instructions])
    program = _Program(len(instructions), array)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.prctl_pointer(linux.PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program))
