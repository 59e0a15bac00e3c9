"""The sessions' Python: the environment `make` builds, and the view the fork server runs it in.

The environment (`sessionpool/environment/`, built by `make session-env` into its `.venv` on
Debian's world-readable `/usr/bin/python3.11`) holds IPython and the data stack and nothing of the
service. The fork server runs it in a mount namespace of its own (a user namespace too when the
pool is not root) in which the environment is `/usr/local` and the kernel's code is
`/opt/sessionpool`: every path a session can see (`sys.executable`, `sys.path`, module files,
tracebacks) is then neutral, none names the checkout, the service's venv or the host's Python,
and nothing inside needs the sessions' uid to pass the checkout's parent folders (a private 0700
home included), since the pool opens them as its own user before any session exists.

Run as `python -m sessionpool.runtime FD CONFIG` (by the pool, with the environment's Python) it
enters that view and replaces itself with the fork server; where no namespace can be made (an
ordinary user on a host without user namespaces) the fork server runs at the host's paths, and
says so in its ready message.
"""

import os
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PROJECT = PACKAGE / "environment"
ENVIRONMENT = PROJECT / ".venv"
BUILT = ENVIRONMENT / ".synced"
PREFIX = "/usr/local"
CODE_PARENT = "/opt"
PYTHON = f"{PREFIX}/bin/python3"
BUILD_HINT = "build it with `make session-env` (make run, make pool and make test do it too)"
SMALL_INIT_HINT = "its small init (bin/session-init) is not built; " + BUILD_HINT


class MissingEnvironment(RuntimeError):
    """The sessions' environment is not built."""


def environment() -> Path:
    """The built environment, or a clear error saying how to build it."""
    if not (BUILT.exists() and (ENVIRONMENT / "bin" / "python3").exists()):
        raise MissingEnvironment(
            f"the sessions' Python environment {ENVIRONMENT} is missing; {BUILD_HINT}"
        )
    return ENVIRONMENT


def site_packages(root: Path) -> Path:
    """`lib/pythonX.Y/site-packages` of an environment."""
    return next(root.glob("lib/python3*/site-packages"))


def fork_server(control_fd: int, config: str, home: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment that start the fork server through this module."""
    python = environment() / "bin" / "python3"
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": home,
        "MPLCONFIGDIR": f"{home}/mpl",
        "IPYTHONDIR": f"{home}/ipython",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": str(PACKAGE.parent),
    }
    return [str(python), "-s", "-P", "-m", "sessionpool.runtime", str(control_fd), config], env


def main() -> None:
    """Enter the neutral view, then become the fork server (at the host's paths if need be)."""
    control_fd, config = sys.argv[1], sys.argv[2]
    # -P: no working directory on sys.path; the kernel puts the session's own there.
    module = ["-s", "-P", "-m", "sessionpool.zygote", control_fd, config]
    try:
        _enter_view(Path(sys.prefix), PACKAGE)
    except OSError as error:
        os.environ["SESSIONPOOL_VIEW"] = f"host paths ({error.strerror or error})"
        os.execv(sys.executable, [sys.executable, *module])
    os.environ["PYTHONPATH"] = CODE_PARENT
    os.environ["SESSIONPOOL_VIEW"] = "neutral"
    os.execv(PYTHON, [PYTHON, *module])


def _enter_view(environment_root: Path, code: Path) -> None:
    """A private mount namespace with the environment at PREFIX and the code under CODE_PARENT."""
    from sessionpool import linux, rootfs

    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        linux.unshare(linux.CLONE_NEWNS)
    else:
        # Mapped to itself: the fork server stays this user, without capabilities once it execs.
        linux.unshare(linux.CLONE_NEWUSER | linux.CLONE_NEWNS)
        linux.write_file("/proc/self/setgroups", "deny")
        linux.write_file("/proc/self/uid_map", f"{uid} {uid} 1\n")
        linux.write_file("/proc/self/gid_map", f"{gid} {gid} 1\n")
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    rootfs.bind_read_only(str(environment_root), PREFIX)
    flags = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount("tmpfs", CODE_PARENT, "tmpfs", flags, "size=64k,mode=0755")
    os.mkdir(f"{CODE_PARENT}/{code.name}")
    rootfs.bind_read_only(str(code), f"{CODE_PARENT}/{code.name}")
    linux.mount(None, CODE_PARENT, None, linux.MS_REMOUNT | linux.MS_RDONLY | flags)


if __name__ == "__main__":
    main()
