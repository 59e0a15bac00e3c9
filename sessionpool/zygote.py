"""The fork server: builds IPython's shell and imports the data stack once, then forks one
isolated kernel per request.

It is started by the pool through `sessionpool.runtime` (which puts it in its neutral view)
with an empty environment (it never sees the pool's secrets), stays single-threaded, and talks
to the pool over one Unix socket (descriptor in argv[1]). Before the data stack is imported it
forks a second, bare fork server, which serves the requests for an empty kernel
(`useEmptyKernel`): IPython and nothing preloaded.
"""

import contextlib
import gc
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback

from sessionpool import confine, jail, kernel, linux, protocol, rootfs, seccomp

PRELOADED = (
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "sklearn",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.preprocessing",
    "sklearn.metrics",
    "scipy",
    "scipy.stats",
    "asyncio",
    "json",
    "csv",
    "math",
    "statistics",
    "datetime",
    "collections",
    "itertools",
    "re",
)
# Cells run once before any fork, so that what they load (the traceback formatter, the magics,
# the display formatters, the PNG writer and its fonts) is shared instead of loaded per session.
WARM_UP = [
    "1 + 1",
    "print('x')\n[1, 2]",
    "1 / 0",
    "%time 1",
    "from IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))",
]
# Where the pool's own code is imported from: never part of a session's root or sys.path.
CODE_PATHS = tuple(p for p in os.environ.get("PYTHONPATH", "").split(":") if p)
DATA_WARM_UP = [
    "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.title('warm-up')\nplt.show()",
    "import pandas as pd\npd.DataFrame({'a': [1.5]})",
    "import numpy as np\nnp.arange(3)",
]


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    config = json.loads(sys.argv[2])
    limits = rootfs.Limits(**config["limits"])
    started = time.perf_counter()
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, _reap)
    if os.geteuid() == 0:
        os.setgroups([])  # a session cannot drop groups (setgroups is denied in its namespace)
    shell = kernel.build_shell()
    layout = rootfs.Layout.of_this_host(excluded=CODE_PATHS)
    kernel.warm_up(shell, WARM_UP)
    if seccomp.supported():
        seccomp.prepare()
    linux.prepare_capability_drop()
    bare = _fork_bare_server(control, shell, layout, limits)
    missing = _preload()
    kernel.warm_up(shell, DATA_WARM_UP)
    view = os.environ.get("SESSIONPOOL_VIEW", "host paths")
    _use_kernel_environment()
    _freeze()
    ready = {
        "op": "ready",
        "pid": os.getpid(),
        "python": sys.version.split()[0],
        "preload_ms": round((time.perf_counter() - started) * 1000),
        "missing": missing,
        "threads": len(os.listdir("/proc/self/task")),
        "binds": layout.binds,
        "view": view,
        "small_init": os.access(jail.SMALL_INIT, os.X_OK),
    }
    protocol.send(control, ready)
    while True:
        try:
            request, fds = protocol.recv(control, maxfds=1)
        except EOFError:
            return
        if request.get("empty"):
            protocol.send(bare, request, fds)  # the bare server answers on our behalf
            reply, _ = protocol.recv(bare)
        else:
            reply = {"op": "spawned", "pid": _spawn(request, fds[0], shell, layout, limits)}
        os.close(fds[0])
        protocol.send(control, reply)


def _fork_bare_server(control, shell, layout, limits) -> socket.socket:
    """Fork the server of empty kernels: it serves spawn requests the main server forwards."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    _freeze()
    if os.fork():
        theirs.close()
        return ours
    control.close()
    ours.close()
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)  # not inherited across fork
    _use_kernel_environment()
    while True:
        try:
            request, fds = protocol.recv(theirs, maxfds=1)
        except EOFError:
            os._exit(0)
        pid = _spawn(request, fds[0], shell, layout, limits)
        os.close(fds[0])
        protocol.send(theirs, {"op": "spawned", "pid": pid})


def _freeze() -> None:
    if threading.active_count() != 1:
        raise RuntimeError("the fork server must stay single-threaded")
    _empty_cleared_at_fork()
    gc.collect()
    gc.freeze()  # forked sessions then share the objects' pages instead of copying them
    linux.collapse_into_huge_pages()


def _use_kernel_environment() -> None:
    """The sessions' environment, set in the fork server before it forks (its libraries have
    read its own by then): setting it in each session copied ~0.3 MiB of pages there."""
    os.environ.clear()
    os.environ.update(jail.KERNEL_ENV)


def _empty_cleared_at_fork() -> None:
    """Empty what a library empties in every forked child anyway: there, freeing it would
    copy every page it sits on (matplotlib drops its FreeType fonts, ~0.5 MiB per session)."""
    font_manager = sys.modules.get("matplotlib.font_manager")
    if font_manager is not None:
        font_manager._get_font.cache_clear()  # os.register_at_fork(after_in_child=...) there


def _preload() -> list[str]:
    missing = []
    for name in PRELOADED:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    return missing


def _reap(*_) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _spawn(request: dict, session_fd: int, shell, layout, limits) -> int:
    """Fork the session's first process; its pid, or 0 (and the session told why) if none."""
    namespaces, data = request["isolation"] == "namespaces", None
    try:
        if namespaces:
            pid, data = jail.fork_session(request["host_uid"], limits)
        else:
            pid = os.fork()
    except OSError as error:
        message = {"op": "error", "message": f"the session's first process failed: {error}"}
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(session_fd)) as channel:
            protocol.send(channel, message)
        return 0
    if pid:
        return pid
    try:
        jail.join(request["cgroups"])
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        data = _keep_only(session_fd, data)
        channel = socket.socket(fileno=jail.SESSION_FD)
        isolation, uid = request["isolation"], request["host_uid"]
        if namespaces:
            handles = jail.enter_namespaces(layout, limits, data)
            if request.get("report_layers"):  # the pool reads them once, from its probe
                handles.layers = jail.applied_layers()
        else:
            landlocked = isolation == "landlock"
            workdir = request["workdir"]
            handles = confine.enter_confined(layout, limits, uid, workdir, landlocked)
        _run_kernel(channel, shell, handles, isolation)
    except BaseException:
        try:
            message = {"op": "error", "message": traceback.format_exc()}
            protocol.send(socket.socket(fileno=jail.SESSION_FD), message)
        finally:
            os._exit(70)
    os._exit(0)


def _keep_only(session_fd: int, data: int | None) -> int | None:
    """Close every descriptor but the session's socket, moved to SESSION_FD, and `data`,
    moved to the one after it (its new number)."""
    if data == jail.SESSION_FD:
        data = os.dup(data)
    if session_fd != jail.SESSION_FD:
        os.dup2(session_fd, jail.SESSION_FD, inheritable=False)
    first_closed = jail.SESSION_FD + 1
    if data is not None:
        if data != first_closed:
            os.dup2(data, first_closed, inheritable=False)
        data, first_closed = first_closed, first_closed + 1
    os.closerange(first_closed, os.sysconf("SC_OPEN_MAX"))
    return data


def _run_kernel(channel: socket.socket, shell, handles: jail.Handles, isolation: str) -> None:
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if isolation != "namespaces":
        tmp = os.path.join(os.path.dirname(os.getcwd()), "tmp")
        os.environ |= {"HOME": os.getcwd(), "TMPDIR": tmp, "MPLCONFIGDIR": f"{tmp}/mpl"}
    # As Jupyter: the working folder first on sys.path (files uploaded to /mnt/data import),
    # and nothing of the pool's own code, which a session cannot see.
    sys.path[:] = ["", *(p for p in sys.path if p and p not in CODE_PATHS)]
    sys.argv[:] = [""]
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    layers = handles.layers or {}
    # Without its own PID namespace, a uid of its own or Landlock's signal scope, kill(-1)
    # from the session would reach the pool's other processes: then it is never used.
    contained = isolation == "namespaces" or any(
        layers.get(name) for name in (confine.OWN_UID, confine.SCOPED_SIGNALS)
    )
    session = kernel.Kernel(channel, shell, os.environ["TMPDIR"], contained)
    hello = {"op": "hello", "layers": handles.layers}
    protocol.send(channel, hello, handles.as_list())
    for fd in handles.as_list():
        os.close(fd)
    session.serve()


if __name__ == "__main__":
    main()
