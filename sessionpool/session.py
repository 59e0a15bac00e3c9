"""One session as the pool holds it: its kernel's channel, its calls' outcomes."""

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from sessionpool.channel import Channel
from sessionpool.sandbox import KernelProcess

KEPT_EXECUTIONS = 50


@dataclass
class Outcome:
    """What one call produced, before it is shaped for an api-version."""

    succeeded: bool
    stdout: str = ""
    stderr: str = ""
    value: object = None
    has_value: bool = False
    images: list[dict] = field(default_factory=list)
    duration_ms: int = 0


@dataclass
class Execution:
    id: str
    execution_type: str
    outcome: Outcome | None = None


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
    images = reply.get("images") or []
    if not isinstance(images, list) or not all(_is_image(i) for i in images):
        raise ValueError("malformed images")
    value = reply.get("result")
    if value is not None and type(value) not in (int, float, str):
        raise ValueError("malformed result")
    stdout, stderr = reply.get("stdout", ""), reply.get("stderr", "")
    if not isinstance(stdout, str) or not isinstance(stderr, str):
        raise ValueError("malformed streams")
    duration = reply.get("duration_ms", 0)
    return Outcome(
        succeeded=reply.get("status") == "ok",
        stdout=_clean(stdout),
        stderr=_clean(stderr),
        value=_clean(value),
        has_value=value is not None,
        images=[{k: i[k] for k in ("type", "format", "base64_data")} for i in images],
        duration_ms=duration if isinstance(duration, int) else 0,
    )


def _clean(value):
    """Text with lone surrogates (which UTF-8 cannot carry) replaced by '?'."""
    if isinstance(value, str) and not value.isascii():
        return value.encode("utf-8", "replace").decode()
    return value


def _is_image(item: object) -> bool:
    return (
        isinstance(item, dict)
        and item.get("type") == "image"
        and item.get("format") == "png"
        and isinstance(item.get("base64_data"), str)
        and item["base64_data"].isascii()
    )
