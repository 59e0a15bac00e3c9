"""Processes for the load test: start the scripted model and the service; find and weigh a pid."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import ROOT, free_port, stop, wait_until_up

_SCRIPTED_LLM = (
    "import sys, time; sys.path.insert(0, sys.argv[1]);"
    "from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain;"
    "llm = ScriptedLLM(arithmetic_brain).__enter__(); print(llm.url, flush=True); time.sleep(1e9)"
)
# Variables that would point the started service at another model, pool or database.
_CONFIG_VARS = ("AZURE_OPENAI_ENDPOINT", "POOL_MANAGEMENT_ENDPOINT", "DATABASE_URL", "API_KEYS")


@contextmanager
def start_scripted_llm() -> Iterator[str]:
    """The scripted chat-completions server in its own process, so it does not share our GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPTED_LLM, str(ROOT)],
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
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in _CONFIG_VARS and not k.startswith("ENTRA_")
    }
    env |= {
        "OPENAI_BASE_URL": f"{llm_url}/v1",
        "OPENAI_API_KEY": "scripted",
        "DATA_DIR": str(data_dir),
        # One anonymous user drives every conversation: its limits must not be what we measure.
        "RATE_LIMIT_PER_MINUTE": "1000000",
        "MAX_CONCURRENT_RUNS_PER_USER": str(conversations * 2),
    }
    args = ["-m", "uvicorn", "server:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, *args, "--app-dir", str(ROOT), "--no-access-log"],
        cwd=data_dir,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", proc, timeout=120)
        yield url, proc.pid
    finally:
        stop(proc)


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
