"""The interpreter inside a session's sandbox: runs cells statefully, reports as Jupyter does."""

import ast
import asyncio
import base64
import builtins
import contextlib
import ctypes
import inspect
import io
import linecache
import math
import os
import signal
import socket
import sys
import time
import traceback

from sessionpool import protocol

CELL_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_libc = ctypes.CDLL(None)


class CappedStream(io.TextIOBase):
    """A text stream that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit: int, fd: int) -> None:
        self.limit = limit
        self._fd = fd
        self._parts: list[str] = []
        self._kept = 0
        self.cut = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = self.limit - self._kept
        if room > 0:
            self._parts.append(text[:room])
            self._kept += min(room, len(text))
        self.cut += max(0, len(text) - max(room, 0))
        return len(text)

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"

    def text(self, name: str) -> str:
        kept = "".join(self._parts)
        if not self.cut:
            return kept
        end = "" if kept.endswith("\n") or not kept else "\n"
        return (
            f"{kept}{end}[... {self.cut} more characters of {name} were cut: "
            f"the limit is {self.limit} characters per stream]\n"
        )


class FdCapture:
    """Catches what subprocesses and C code write to descriptors 1 and 2, via files in /tmp."""

    def __init__(self, fd: int, directory: str) -> None:
        self.fd = fd
        tmp = os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_APPEND, 0o600)
        os.dup2(tmp, fd)
        os.close(tmp)

    def drain_into(self, stream: CappedStream) -> None:
        size = os.fstat(self.fd).st_size
        if not size:
            return
        wanted = min(size, max(stream.limit * 4, 4096))
        data = os.pread(self.fd, wanted, 0).decode("utf-8", "replace")
        stream.write(data)
        stream.cut += size - wanted
        os.ftruncate(self.fd, 0)


class Kernel:
    """One session's interpreter state: a namespace that persists between cells."""

    def __init__(self, sock: socket.socket, tmp_dir: str, contained: bool) -> None:
        """`contained`: kill(-1) here reaches only this session's processes."""
        self.sock = sock
        self.contained = contained
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.cells = 0
        self.running = False
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.captures = (FdCapture(1, tmp_dir), FdCapture(2, tmp_dir))
        # Between cells, stray writes go to the descriptors and reach the next cell's output.
        sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
        signal.signal(signal.SIGINT, self._on_interrupt)

    def _on_interrupt(self, signum, frame) -> None:
        if self.running:
            raise KeyboardInterrupt

    def serve(self) -> None:
        """Answer execute requests until the pool closes the channel."""
        while True:
            try:
                request, _ = protocol.recv(self.sock)
            except EOFError:
                return
            if request.get("op") == "stop_processes":
                reply = {"stopped": self.contained and _stop_other_processes()}
            else:
                reply = self.execute(request["code"], request.get("max_output", 4096))
            if os.getpid() != self.pid:
                os._exit(0)  # a child forked by user code fell back into the loop
            reply["id"] = request.get("id")  # the pool accepts only the answer to its request
            protocol.send(self.sock, reply)

    def execute(self, code: str, max_output: int) -> dict:
        self.cells += 1
        out = CappedStream(max_output, 1)
        err = CappedStream(max_output, 2)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        started = time.perf_counter()
        reply: dict = {"status": "ok", "result": None, "images": []}
        try:
            value, has_value = self._run_cell(code, f"<cell-{self.cells}>")
            reply["images"] = _collect_figures()
            if has_value:
                reply["result"] = _result_value(value)
        except BaseException:
            self.running = False
            reply["status"] = "error"
            _write_traceback(err, f"<cell-{self.cells}>")
        finally:
            self.running = False
            sys.stdout, sys.stderr = saved
        _flush_c_stdio()
        self.captures[0].drain_into(out)
        self.captures[1].drain_into(err)
        reply["stdout"] = out.text("stdout")
        reply["stderr"] = err.text("stderr")
        reply["duration_ms"] = round((time.perf_counter() - started) * 1000)
        return reply

    def _run_cell(self, code: str, filename: str) -> tuple[object, bool]:
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        tree = ast.parse(code, filename, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not _silenced(code):
            last = ast.Expression(tree.body.pop().value)
        self.running = True
        self._evaluate(compile(tree, filename, "exec", flags=CELL_FLAGS))
        if last is None:
            return None, False
        value = self._evaluate(compile(last, filename, "eval", flags=CELL_FLAGS))
        self.running = False
        if value is not None:
            self.namespace["_"] = value
        return value, value is not None

    def _evaluate(self, code_object):
        value = eval(code_object, self.namespace)
        if code_object.co_flags & inspect.CO_COROUTINE:
            value = self.loop.run_until_complete(value)
        return value


def _stop_other_processes() -> bool:
    """Kill every process of the session but this one and its init (after a timeout).

    Repeated, because a fork bomb may fork during one pass; kill(-1) fails with ESRCH once
    nothing else is left (zombies count, so this process reaps its own as it goes)."""
    for _ in range(200):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.005)
    return False


def _silenced(code: str) -> bool:
    """A trailing semicolon hides the last value, as in Jupyter."""
    return code.rstrip().endswith(";")


def _result_value(value: object) -> object:
    """A JSON number for int and float (numpy's too), the text repr for everything else."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.integer | numpy.floating):
        value = value.item()
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    return repr(value)


def _write_traceback(stream: CappedStream, filename: str) -> None:
    kind, error, tb = sys.exc_info()
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    stream.write("".join(traceback.format_exception(kind, error, tb)))


def _flush_c_stdio() -> None:
    _libc.fflush(None)


def _collect_figures() -> list[dict]:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    images = list(_SHOWN)
    _SHOWN.clear()
    images.extend(_render_open_figures(pyplot))
    return images


_SHOWN: list[dict] = []


def _render_open_figures(pyplot) -> list[dict]:
    images = []
    for number in pyplot.get_fignums():
        figure = pyplot.figure(number)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        data = base64.b64encode(buffer.getvalue()).decode()
        images.append({"type": "image", "format": "png", "base64_data": data})
    pyplot.close("all")
    return images


def _show(*args, **kwargs) -> None:
    """`plt.show()` in a session: render the open figures into the cell's results."""
    _SHOWN.extend(_render_open_figures(sys.modules["matplotlib.pyplot"]))


def install_matplotlib_hooks() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.show = _show
