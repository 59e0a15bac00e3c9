"""The interpreter inside a session's sandbox: IPython's InteractiveShell, answering the pool.

One shell is built in the fork server, before `gc.freeze()`, so that every session shares its
pages; each forked session then runs its cells through it, as a Jupyter kernel would: rich
reprs, `display()`, magics, `!cmd` (inside the sandbox), `get_ipython()`, pretty-printed
results, tracebacks without colour (in stderr).

A cell that holds no IPython syntax (the regex below) takes the fast path: IPython's own
`run_cell_async`, without the input transformers and the async check that `run_cell` adds and
that cost about half a millisecond per cell. Every other cell goes through `run_cell`.

Each execute request gets one reply frame:

    status          "ok" or "error"
    stdout, stderr  the first `max_output` characters of each stream, what Python wrote and
                    what subprocesses and C code wrote to descriptors 1 and 2
    stdout_cut, stderr_cut  how many further characters were dropped
    outputs         Jupyter's outputs in order: {"output_type": "display_data", "data": {mime:
                    value}, "metadata": {...}}, {"output_type": "execute_result",
                    "execution_count": n, "data": ..., "metadata": ...}, {"output_type": "error",
                    "ename", "evalue", "traceback": [...]}
    value           [the execute_result's own value], only when it is a bool, int, float or str
                    (numpy's scalars included; NaN and infinities as null)
    duration_ms
"""

import contextlib
import ctypes
import io
import math
import os
import re
import signal
import socket
import sys
import time
import warnings
from typing import Any

from IPython.core.async_helpers import _pseudo_sync_runner
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from sessionpool import caps, protocol

_libc = ctypes.CDLL(None)

# What IPython's input transformers act on (with an indented first line): a line starting with
# an escape (%magic, !cmd, ?help, ,/;/ autocall), `x = %magic` or `x = !cmd`, a line ending in
# `?`, pasted prompts; and top-level `await`, which needs IPython's event loop runner.
IPYTHON_SYNTAX = re.compile(
    r"^[ \t]*([%!?,;/]|>>>|In \[)|=[ \t]*[%!]|\?[ \t]*$|\bawait\b|\basync\b", re.M
)


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

    encoding = "utf-8"

    def text(self) -> str:
        return "".join(self._parts)


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


class _Publisher(DisplayPublisher):
    """`display()` and friends: each call becomes a display_data output of the cell."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **_):
        self._validate_data(data, metadata)
        output = {"output_type": "display_data", "data": data, "metadata": metadata or {}}
        self.shell.cell_outputs.append(output)

    def clear_output(self, wait=False):
        self.shell.cell_outputs[:] = [
            o for o in self.shell.cell_outputs if o["output_type"] == "error"
        ]


class _DisplayHook(DisplayHook):
    """The cell's last value: the execute_result output, and the value itself for the pool."""

    def write_output_prompt(self):
        pass

    def compute_format_data(self, result):
        # The rich formatters have nothing for a builtin number, bool or str unless the user
        # registered one: then only text/plain applies, at a fraction of the cost of asking all.
        kind = type(result)
        formatters = self.shell.display_formatter.formatters
        if kind in PLAIN_TYPES and not any(
            kind in f.type_printers for mime, f in formatters.items() if mime != "text/plain"
        ):
            return {"text/plain": formatters["text/plain"](result)}, {}
        return super().compute_format_data(result)

    def fill_exec_result(self, result):
        super().fill_exec_result(result)
        self.shell.cell_value = result

    def write_format_data(self, format_dict, md_dict=None):
        self.shell.cell_outputs.append(
            {
                "output_type": "execute_result",
                "execution_count": self.prompt_count,
                "data": format_dict,
                "metadata": md_dict or {},
            }
        )


class KernelShell(InteractiveShell):
    """IPython as a Jupyter kernel runs it, with outputs kept for the pool's reply."""

    displayhook_class = _DisplayHook
    display_pub_class = _Publisher
    # `!cmd` writes straight to descriptors 1 and 2 (captured); the piped variant needs a tty.
    system = InteractiveShell.system_raw

    def __init__(self, **kwargs) -> None:
        self.cell_outputs: list[dict] = []
        self.cell_value: object = None
        super().__init__(**kwargs)

    def _showtraceback(self, etype, evalue, stb):
        text = self.InteractiveTB.stb2text(stb)
        print(text, file=sys.stderr)
        self.cell_outputs.append(
            {
                "output_type": "error",
                "ename": getattr(etype, "__name__", str(etype)),
                "evalue": _safe_str(evalue),
                "traceback": stb,
            }
        )

    def _tee(self, channel):
        # IPython 9 copies every write into its output history: unbounded memory, unused here.
        return contextlib.nullcontext()


def build_shell() -> KernelShell:
    """The one shell of this fork server: no history file, no colours, Jupyter's defaults."""
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "Context"
    shell = KernelShell.instance(config=config)
    # Clients such as AutoGen list packages with pkg_resources and read stderr as output.
    warnings.filterwarnings("ignore", "pkg_resources is deprecated", DeprecationWarning)
    return shell


def warm_up(shell: KernelShell, cells: list[str]) -> None:
    """Run `cells` through both paths so that what they load is loaded before any fork,
    then forget them: a session starts at execution count 1 with an empty namespace."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for code in cells:
            out, err = CappedStream(4096, 1), CappedStream(4096, 2)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                run_cell(shell, code)
        shell.reset(new_session=False)
    shell.execution_count = 1
    shell.cell_outputs, shell.cell_value = [], None


def run_cell(shell: KernelShell, code: str) -> bool:
    """Run one cell through the fast path or `run_cell`; True if it succeeded."""
    shell.cell_outputs, shell.cell_value = [], None
    cell = code.lstrip("\n") if code.endswith("\n") else code.lstrip("\n") + "\n"
    if cell[:1] in (" ", "\t") or IPYTHON_SYNTAX.search(cell):
        return shell.run_cell(code, store_history=True).success
    coroutine = shell.run_cell_async(cell, store_history=True, transformed_cell=cell)
    result = None
    try:
        result = _pseudo_sync_runner(coroutine)
    finally:
        shell.events.trigger("post_execute")
        shell.events.trigger("post_run_cell", result)
    return result.success


class Kernel:
    """One session's interpreter: the shell, the channel to the pool, its output captures."""

    def __init__(self, sock: socket.socket, shell: KernelShell, tmp_dir: str, contained: bool):
        """`contained`: kill(-1) here reaches only this session's processes."""
        self.sock = sock
        self.shell = shell
        self.contained = contained
        self.running = False
        self.pid = os.getpid()
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
            reply: dict[str, Any]
            if request.get("op") == "stop_processes":
                reply = {"stopped": self.contained and _stop_other_processes()}
            else:
                reply = self.execute(request["code"], request.get("max_output", 4096))
            if os.getpid() != self.pid:
                os._exit(0)  # a child forked by user code fell back into the loop
            reply["id"] = request.get("id")  # the pool accepts only the answer to its request
            protocol.send(self.sock, reply)

    def execute(self, code: str, max_output: int) -> dict[str, Any]:
        out = CappedStream(max_output, 1)
        err = CappedStream(max_output, 2)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        started = time.perf_counter()
        succeeded = False
        self.running = True
        try:
            succeeded = run_cell(self.shell, code)
        except BaseException:  # an interrupt outside the code itself, or IPython failing
            self.running = False
            self.shell.showtraceback()
        finally:
            self.running = False
            sys.stdout, sys.stderr = saved
        _libc.fflush(None)
        self.captures[0].drain_into(out)
        self.captures[1].drain_into(err)
        reply: dict[str, Any] = {
            "status": "ok" if succeeded else "error",
            "stdout": out.text(),
            "stderr": err.text(),
            "stdout_cut": out.cut,
            "stderr_cut": err.cut,
            "outputs": self.shell.cell_outputs,
            "duration_ms": round((time.perf_counter() - started) * 1000),
        }
        value: list | None = None
        if any(o["output_type"] == "execute_result" for o in reply["outputs"]):
            primitive = json_value(self.shell.cell_value)
            value = None if primitive is NOT_PRIMITIVE else [primitive]
        reply["outputs"], value, note = caps.cap(reply["outputs"], value)
        if value is not None:
            reply["value"] = value
        reply["stderr"] += note
        self.shell.cell_outputs, self.shell.cell_value = [], None
        return reply


NOT_PRIMITIVE = object()
PLAIN_TYPES = (bool, int, float, str)


def json_value(value: object) -> object:
    """The value as JSON holds it when it is a primitive (NaN and infinities become null)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.bool_ | numpy.integer | numpy.floating):
        value = value.item()
    if type(value) in (bool, int):
        return value
    if type(value) is str:
        return value if _encodable(value) else NOT_PRIMITIVE
    if type(value) is float:
        return value if math.isfinite(value) else None
    return NOT_PRIMITIVE


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate: its repr (text/plain) says what it is
        return False
    return True


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


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
