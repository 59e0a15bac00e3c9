"""Processes for the load test: start the scripted model and the service; find and weigh a pid."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import ROOT, running_service, stop

_SCRIPTED_LLM = (
    "import dataclasses, sys, time; sys.path.insert(0, sys.argv[1]);"
    "from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain;"
    "brain = lambda body: dataclasses.replace(arithmetic_brain(body), delay=float(sys.argv[2]));"
    "llm = ScriptedLLM(brain).__enter__(); print(llm.url, flush=True); time.sleep(1e9)"
)


@contextmanager
def start_scripted_llm(delay: float = 0.0) -> Iterator[str]:
    """The scripted chat-completions server in its own process, so it does not share our GIL;
    each answer after `delay` seconds."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPTED_LLM, str(ROOT), str(delay)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc.stdout.readline().strip()
    finally:
        stop(proc)


@contextmanager
def start_service(llm_url: str, data_dir: Path, conversations: int) -> Iterator[tuple[str, int]]:
    """`uvicorn server:app` with the scripted model; the service starts the local pool."""
    env = {
        "OPENAI_BASE_URL": f"{llm_url}/v1",
        "OPENAI_API_KEY": "scripted",
        "MAX_CONCURRENT_RUNS_PER_USER": str(max(conversations * 2, 1000)),
    }
    with running_service(env, data_dir, "--no-access-log", timeout=120) as (url, proc):
        yield url, proc.pid


def rss_kib(pid: int) -> int:
    """VmRSS of `pid` in KiB (0 once it is gone)."""
    return _field(f"/proc/{pid}/status", "VmRSS:")


def tree_pss_kib(pid: int) -> int:
    """Proportional set size of `pid` and its descendants: pages shared by the pool's
    forked sessions are counted once in total, not once per process as RSS would."""
    own = _field(f"/proc/{pid}/smaps_rollup", "Pss:")
    return own + sum(tree_pss_kib(child) for child in _children(pid))


def _field(path: str, name: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def pid_listening_on(port: int) -> int | None:
    """The pid whose socket listens on `port` (from /proc/net/tcp and each process's fds)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return None
