"""The fork server: imports the data stack once, then forks one isolated kernel per request.

It is started by the pool with an empty environment (it never sees the pool's secrets),
stays single-threaded, and talks to the pool over one Unix socket (descriptor in argv[1]).
"""

import gc
import io
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback

from sessionpool import confine, jail, kernel, linux, protocol, rootfs

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


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    config = json.loads(sys.argv[2])
    limits = rootfs.Limits(**config["limits"])
    started = time.perf_counter()
    missing = _preload()
    layout = rootfs.Layout.of_this_host(excluded=config["package_root"])
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, _reap)
    gc.collect()
    gc.freeze()  # forked sessions then share the imported objects' pages instead of copying
    ready = {
        "op": "ready",
        "pid": os.getpid(),
        "python": sys.version.split()[0],
        "preload_ms": round((time.perf_counter() - started) * 1000),
        "missing": missing,
        "threads": len(os.listdir("/proc/self/task")),
        "binds": layout.binds,
    }
    protocol.send(control, ready)
    while True:
        try:
            request, fds = protocol.recv(control, maxfds=1)
        except EOFError:
            return
        pid = _spawn(request, fds[0], layout, limits)
        os.close(fds[0])
        protocol.send(control, {"op": "spawned", "pid": pid})


def _preload() -> list[str]:
    missing = []
    for name in PRELOADED:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    kernel.install_matplotlib_hooks()
    _warm_matplotlib()
    if threading.active_count() != 1:
        raise RuntimeError("the fork server must stay single-threaded")
    return missing


def _warm_matplotlib() -> None:
    """Render one figure so fonts and the PNG writer are loaded before any fork."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    figure, axes = pyplot.subplots()
    axes.plot([0, 1], [0, 1])
    axes.set_title("warm-up")
    figure.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    pyplot.close("all")


def _reap(*_) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _spawn(request: dict, session_fd: int, layout: rootfs.Layout, limits: rootfs.Limits) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        jail.join(request["cgroups"])
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if session_fd != jail.SESSION_FD:
            os.dup2(session_fd, jail.SESSION_FD, inheritable=False)
        os.closerange(jail.SESSION_FD + 1, os.sysconf("SC_OPEN_MAX"))
        channel = socket.socket(fileno=jail.SESSION_FD)
        isolation, uid = request["isolation"], request["host_uid"]
        if isolation == "namespaces":
            handles = jail.enter_namespaces(layout, limits, uid)
            handles.layers = jail.applied_layers()
        else:
            landlocked = isolation == "landlock"
            workdir = request["workdir"]
            handles = confine.enter_confined(layout, limits, uid, workdir, landlocked)
        _run_kernel(channel, handles, isolation)
    except BaseException:
        try:
            message = {"op": "error", "message": traceback.format_exc()}
            protocol.send(socket.socket(fileno=jail.SESSION_FD), message)
        finally:
            os._exit(70)
    os._exit(0)


def _run_kernel(channel: socket.socket, handles: jail.Handles, isolation: str) -> None:
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ.clear()
    os.environ.update(jail.KERNEL_ENV)
    if isolation != "namespaces":
        tmp = os.path.join(os.path.dirname(os.getcwd()), "tmp")
        os.environ |= {"HOME": os.getcwd(), "TMPDIR": tmp, "MPLCONFIGDIR": f"{tmp}/mpl"}
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
    session = kernel.Kernel(channel, os.environ["TMPDIR"], contained)
    hello = {"op": "hello", "layers": handles.layers}
    protocol.send(channel, hello, handles.as_list())
    for fd in handles.as_list():
        os.close(fd)
    session.serve()


if __name__ == "__main__":
    main()
