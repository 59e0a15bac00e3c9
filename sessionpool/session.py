"""One session as the pool holds it: its kernel's channel, its calls' outcomes."""

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from sessionpool import caps
from sessionpool.channel import Channel
from sessionpool.sandbox import KernelProcess

KEPT_EXECUTIONS = 50


@dataclass
class Outcome:
    """What one call produced, before it is shaped for an api-version (schemas.py)."""

    succeeded: bool
    stdout: str = ""
    stderr: str = ""
    stdout_cut: int = 0  # characters the kernel dropped beyond the limit
    stderr_cut: int = 0
    outputs: list[dict] = field(default_factory=list)  # Jupyter's outputs, in order
    value: list | None = None  # [the execute_result's value] when it is a JSON primitive
    duration_ms: int = 0


@dataclass
class Execution:
    id: str
    execution_type: str
    outcome: Outcome | None = None
    max_output: int = 4096  # how its result is shaped when polled
    jupyter_format: bool = False


class Session:
    """One identifier's interpreter. Calls run one at a time, under `lock`."""

    def __init__(self, identifier: str, kernel: KernelProcess, now: float) -> None:
        self.identifier = identifier
        self.kernel = kernel
        self.channel = Channel(kernel.channel)
        self.created = now
        self.last_used = now
        self.etag = uuid.uuid4().hex
        self.lock = asyncio.Lock()
        self.executions: OrderedDict[str, Execution] = OrderedDict()
        self.closed = False
        self.calls = 0
        self.interrupted = 0  # the number of the last call interrupted on request
        self.oom_kills = 0  # of its kernel's cgroup, as last reported
        self.latest: Outcome | None = None  # the last call's outcome, for GET session/outputs

    @property
    def busy(self) -> bool:
        return self.lock.locked()

    def remember(self, execution: Execution) -> None:
        self.executions[execution.id] = execution
        while len(self.executions) > KEPT_EXECUTIONS:
            self.executions.popitem(last=False)

    def attach(self, kernel: KernelProcess) -> None:
        """Carry on with a new kernel (a replacement); the old one is closed."""
        old = self.kernel
        self.channel.close()
        old.close()
        self.kernel, self.channel = kernel, Channel(kernel.channel)
        self.oom_kills = 0

    def close(self) -> None:
        self.closed = True
        self.channel.close()
        self.kernel.close()


def outcome_from(reply: dict) -> Outcome:
    """Check the kernel's reply field by field: the sandbox is not trusted."""
    outputs = reply.get("outputs", [])
    if not isinstance(outputs, list) or not all(_is_output(o) for o in outputs):
        raise ValueError("malformed outputs")
    value = reply.get("value")
    if value is not None and not (
        isinstance(value, list) and len(value) == 1 and type(value[0]) in PRIMITIVES
    ):
        raise ValueError("malformed value")
    stdout, stderr = reply.get("stdout", ""), reply.get("stderr", "")
    if not isinstance(stdout, str) or not isinstance(stderr, str):
        raise ValueError("malformed streams")
    counts = [reply.get(name, 0) for name in ("stdout_cut", "stderr_cut", "duration_ms")]
    if not all(type(count) is int and count >= 0 for count in counts):
        raise ValueError("malformed counts")
    outputs, value, note = caps.cap(outputs, value)
    return Outcome(
        succeeded=reply.get("status") == "ok",
        stdout=_clean(stdout),
        stderr=_clean(stderr + note),
        stdout_cut=counts[0],
        stderr_cut=counts[1],
        outputs=_clean(outputs),
        value=_clean(value),
        duration_ms=counts[2],
    )


def _clean(value):
    """The same JSON with lone surrogates (which UTF-8 cannot carry) replaced by '?'."""
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "replace").decode()
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    return value


PRIMITIVES = (bool, int, float, str, type(None))
OUTPUT_TYPES = {"display_data", "execute_result", "error"}


def _is_output(item: object) -> bool:
    """A Jupyter output: a MIME bundle of strings or JSON, or an error's name and lines."""
    if not isinstance(item, dict) or item.get("output_type") not in OUTPUT_TYPES:
        return False
    if item["output_type"] == "error":
        traceback = item.get("traceback")
        return (
            isinstance(item.get("ename"), str)
            and isinstance(item.get("evalue"), str)
            and isinstance(traceback, list)
            and all(isinstance(line, str) for line in traceback)
        )
    data, metadata = item.get("data"), item.get("metadata", {})
    return (
        isinstance(data, dict)
        and all(isinstance(mime, str) for mime in data)
        and isinstance(metadata, dict)
    )
