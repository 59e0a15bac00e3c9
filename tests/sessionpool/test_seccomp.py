"""The sessions' seccomp filter: its numbers are libseccomp's on x86_64 and aarch64, each
architecture's program does what it says, inotify is denied, and a host without a table runs
no session unless the operator allows it."""

import ctypes
import ctypes.util
import errno
import struct

import pytest

from sessionpool import linux, seccomp
from sessionpool.sandbox import Sandbox, SandboxError
from sessionpool.settings import PoolSettings
from sessionpool.syscalls import AUDIT_ARCH, NUMBERS
from tests.sessionpool.conftest import INOTIFY, assert_neighbour_answers, new_id

ARCHITECTURES = sorted(NUMBERS)
NAMESPACE_FLAG = 0x10000000  # CLONE_NEWUSER
AF_INET, SOCK_DGRAM = 2, 2
SOCK_CLOEXEC = 0o2000000
# The calls each filter must leave alone, by their number there.
READ = {"x86_64": 0, "aarch64": 63}


@pytest.fixture(scope="module")
def libseccomp():
    path = ctypes.util.find_library("seccomp")
    if path is None:
        pytest.skip("libseccomp is not installed (make test installs Debian's libseccomp2)")
    library = ctypes.CDLL(path)
    library.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    library.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    library.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    return library


@pytest.mark.parametrize("machine", ARCHITECTURES)
def test_the_numbers_are_libseccomps(libseccomp, machine):
    arch = libseccomp.seccomp_arch_resolve_name(machine.encode())
    assert arch == AUDIT_ARCH[machine]

    def number(name: str) -> int:
        return libseccomp.seccomp_syscall_resolve_name_arch(arch, name.encode())

    assert {name: number(name) for name in NUMBERS[machine]} == NUMBERS[machine]
    missing = [name for name in seccomp.DENIED if name not in NUMBERS[machine]]
    # What the table leaves out does not exist on that architecture (libseccomp: negative).
    assert [name for name in missing if number(name) >= 0] == []


def run(program, machine: str, call: int | str, *args: int, arch: int | None = None) -> str:
    """A small interpreter of the classic BPF the filter uses, on one seccomp_data."""
    nr = NUMBERS[machine][call] if isinstance(call, str) else call
    padded = (list(args) + [0] * 6)[:6]
    data = struct.pack("<iIQ6Q", nr, arch or AUDIT_ARCH[machine], 0, *padded)
    accumulator, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == 0x20:
            (accumulator,) = struct.unpack_from("<I", data, k)
        elif code == 0x54:
            accumulator &= k
        elif code in (0x15, 0x35, 0x45):
            taken = {0x15: accumulator == k, 0x35: accumulator >= k, 0x45: accumulator & k}[code]
            pc += jt if taken else jf
        elif code == 0x06:
            return _verdict(k)
        else:
            raise AssertionError(f"instruction {code:#x} not expected")
        pc += 1


def _verdict(k: int) -> str:
    if k == seccomp.RET_ALLOW:
        return "allow"
    if k == seccomp.RET_KILL_PROCESS:
        return "kill"
    assert k & 0xFFFF0000 == 0x00050000
    return errno.errorcode[k & 0xFFFF]


@pytest.mark.parametrize("machine", ARCHITECTURES)
@pytest.mark.parametrize("host_files", [False, True])
def test_each_architectures_program_does_what_it_says(machine, host_files):
    program = seccomp.build(machine, host_files)
    unix_stream = (1, 1 | SOCK_CLOEXEC)
    verdicts = {
        "read": run(program, machine, READ[machine]),
        "ptrace": run(program, machine, "ptrace"),
        "inotify": run(program, machine, "inotify_init1"),
        "bpf": run(program, machine, "bpf"),
        "inet socket": run(program, machine, "socket", AF_INET, 1),
        "unix socket": run(program, machine, "socket", *unix_stream),
        "unix socketpair": run(program, machine, "socketpair", *unix_stream),
        "unix datagram": run(program, machine, "socket", 1, SOCK_DGRAM),
        "connect": run(program, machine, "connect"),
        "clone": run(program, machine, "clone", 0x11),
        "clone into a namespace": run(program, machine, "clone", NAMESPACE_FLAG | 0x11),
        "clone3": run(program, machine, "clone3"),
        "another architecture": run(program, machine, READ[machine], arch=0x40000003),
    }
    assert verdicts == {
        "read": "allow",
        "ptrace": "EPERM",
        "inotify": "EPERM",
        "bpf": "EPERM",
        "inet socket": "EAFNOSUPPORT",
        "unix socket": "allow",
        "unix socketpair": "allow",
        "unix datagram": "EACCES" if host_files else "allow",
        "connect": "EACCES" if host_files else "allow",
        "clone": "allow",
        "clone into a namespace": "EPERM",
        "clone3": "ENOSYS",
        "another architecture": "kill",
    }
    if machine == "x86_64":
        assert run(program, machine, 0x40000000 | 1) == "ENOSYS"  # the x32 ABI


def test_inotify_is_denied_in_a_session(client, neighbour):
    assert client.value(INOTIFY, new_id()) == f"(-1, {errno.EPERM})"
    assert_neighbour_answers(client, neighbour)


@pytest.mark.parametrize("allowed", [False, True])
def test_a_host_without_a_table_refuses_unless_allowed(monkeypatch, allowed):
    monkeypatch.setattr(linux, "MACHINE", "riscv64")
    sandbox = Sandbox(PoolSettings(api_key="k" * 16, allow_no_seccomp=allowed))
    with pytest.raises(SandboxError) as refused:
        sandbox._probe("namespaces")
    # Allowed, the probe goes on (and, this sandbox never started, stops at the spawn).
    assert ("SESSION_POOL_ALLOW_NO_SECCOMP" in str(refused.value)) is not allowed
