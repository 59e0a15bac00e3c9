"""`python -m bench.pool`: the local session pool against the README's targets, next to one
Jupyter kernel per session, repeat by repeat (pool, then kernels, then the pool again, ...).

Each figure is printed as min / median / max over the repeats. First calls go to new
identifiers, paced (open loop: one every 1/rate s whether or not the last answered, timed from
when it was due) and back to back (one at a time); warm calls go to one session through a lean
keep-alive client and through langchain-azure-dynamic-sessions' SessionsPythonREPLTool; CPU
per new session is what the first-call runs cost the pool, the fork server and the sessions'
processes (ended ones included), per session; memory is per idle session, in three parts:
private pages, page tables, and kernel memory (slab, stacks) as the session's cgroup counts
it. Prints figures; asserts nothing.
"""

import argparse
import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.keepalive import KeepAliveConnection
from sessionpool import runtime
from sessionpool.linux import descendants, process_tree
from sessionpool.settings import PoolSettings

warnings.filterwarnings("ignore", message=".*langchain-azure-compute.*")
from langchain_azure_dynamic_sessions import SessionsPythonREPLTool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIRST_CODE = "import numpy, pandas, matplotlib.pyplot\n1 + 1"
WARM_CODE = "1 + 1"
GEN1 = {"api-version": "2024-02-02-preview"}
GEN2 = {"api-version": "2025-02-02-preview"}
MIB = 2**20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPU_PARTS = ("pool", "fork server", "session processes")
# The README's targets for this 2-core machine (issue 14); printed, never asserted.
TARGETS = {
    "first call, paced p99": "<= 50 ms at 100/s",
    "warm 1+1, keep-alive HTTP p50": "<= 1.5 ms",
    "memory per idle session, total": "<= 8 MiB",
    "live sessions that all answer": "500 of 500",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pool", description=__doc__)
    parser.add_argument("--repeats", type=int, help="rounds, each pool then kernels (3)")
    parser.add_argument("--sessions", type=int, default=100, help="new sessions per first-call run")
    parser.add_argument("--rate", type=float, default=100.0, help="new sessions per second, paced")
    parser.add_argument("--calls", type=int, default=500, help="warm calls per client and round")
    parser.add_argument("--idle", type=int, default=100, help="idle sessions weighed")
    parser.add_argument("--live", type=int, default=500, help="live sessions that must answer")
    parser.add_argument("--ready", type=int, help="SESSION_POOL_READY_SESSIONS (default: pool's)")
    parser.add_argument("--baseline-sessions", type=int, default=10, help="kernels per round")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.calls, args.idle, args.live = 30, 100, 20, 40
        args.baseline_sessions = 3
    args.repeats = args.repeats or (2 if args.quick else 3)
    return args


@dataclass
class Figures:
    """One column of the table: each figure's value per round."""

    rounds: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: float) -> None:
        self.rounds.setdefault(name, []).append(value)

    def add_latencies(self, name: str, samples: list[float]) -> None:
        """p50 and p99 of one round's samples (seconds), in ms."""
        ordered = sorted(samples)
        for q in (0.5, 0.99):
            self.add(f"{name} p{round(q * 100)}", 1000 * ordered[int(q * (len(ordered) - 1))])

    def cell(self, name: str) -> str:
        if name in self.notes:
            return self.notes[name]
        values = self.rounds.get(name)
        if not values:
            return "n/a"
        spread = (min(values), statistics.median(values), max(values))
        return " / ".join(f"{v:.2f}" for v in spread)


def private_bytes(pid: int) -> int:
    """USS: the pages only this process holds."""
    fields = _fields(f"/proc/{pid}/smaps_rollup")
    return sum(_kib(fields.get(k, "0 kB")) for k in ("Private_Clean", "Private_Dirty"))


def page_table_bytes(pid: int) -> int:
    return _kib(_fields(f"/proc/{pid}/status").get("VmPTE", "0 kB"))


def cpu_seconds(pid: int, reaped_children: bool = False) -> float:
    """CPU time of process `pid` (user and system), or of the children it has reaped."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    start = 13 if reaped_children else 11  # cutime, cstime; else utime, stime
    return (int(fields[start]) + int(fields[start + 1])) / CLOCK_TICKS


def _fields(path: str) -> dict[str, str]:
    try:
        with open(path) as file:
            return dict(line.split(":", 1) for line in file if ":" in line)
    except OSError:
        return {}


def _kib(text: str) -> int:
    return int(text.split()[0]) * 1024


def kernel_bytes(pid: int, page_tables: int) -> int | None:
    """Kernel memory (slab, stacks) charged to the cgroup of process `pid`, page tables not
    counted twice; None without a memory cgroup of the session's own."""
    try:
        with open(f"/proc/{pid}/cgroup") as file:
            lines = [line.strip().split(":", 2) for line in file]
    except OSError:
        return None
    for _, controllers, path in lines:
        if "/session-" not in path:
            continue
        if controllers == "":  # v2: memory.stat breaks the kernel's part down itself
            stat = _counters(f"/sys/fs/cgroup{path}/memory.stat")
            return sum(stat.get(k, 0) for k in ("slab", "kernel_stack", "percpu", "sock"))
        if "memory" in controllers.split(","):  # v1: kmem counts page tables too
            kmem = Path(f"/sys/fs/cgroup/memory{path}/memory.kmem.usage_in_bytes")
            try:
                return max(0, int(kmem.read_text()) - page_tables)
            except (OSError, ValueError):
                return None
    return None


def _counters(path: str) -> dict[str, int]:
    try:
        with open(path) as file:
            return {key: int(value) for key, value in (line.split() for line in file)}
    except (OSError, ValueError):
        return {}


def pool_kernel_bytes(pid: int) -> int | None:
    """Kernel memory charged to the memory cgroup of process `pid` (the fork server's, the
    pool's group) and not to a session's group below it; None without cgroups. What the fork
    server allocates for a new session before it joins its own group (its namespaces, its
    /mnt/data mount) lands there."""
    for path in _memory_groups(pid):
        if path.startswith("v2:"):
            stat = _counters(f"/sys/fs/cgroup{path[3:]}/memory.stat")
            return sum(stat.get(k, 0) for k in ("slab", "kernel_stack", "percpu", "sock"))
        group = Path(f"/sys/fs/cgroup/memory{path}")
        try:
            total = int((group / "memory.kmem.usage_in_bytes").read_text())
            inside = (
                int(p.read_text()) for p in group.glob("session-*/memory.kmem.usage_in_bytes")
            )
            return total - sum(inside)
        except (OSError, ValueError):
            return None
    return None


def _memory_groups(pid: int) -> list[str]:
    """The memory cgroup of process `pid`, as "/path" (v1) or "v2:/path"."""
    try:
        with open(f"/proc/{pid}/cgroup") as file:
            lines = [line.strip().split(":", 2) for line in file]
    except OSError:
        return []
    found = [path for _, controllers, path in lines if "memory" in controllers.split(",")]
    return found or [f"v2:{path}" for _, controllers, path in lines if controllers == ""]


def weigh(sessions: list[list[int]], figures: Figures, outside: float = 0.0) -> None:
    """Mean memory per session, in MiB: each session is its list of processes; `outside` is
    the kernel memory per session charged to the pool's group rather than to the session's."""
    private = [sum(map(private_bytes, s)) for s in sessions]
    tables = [sum(map(page_table_bytes, s)) for s in sessions]
    found = [kernel_bytes(s[0], t) for s, t in zip(sessions, tables, strict=True)]
    kernel = [k + outside for k in found if k is not None]
    figures.add("memory per idle session, private", statistics.mean(private) / MIB)
    figures.add("memory per idle session, page tables", statistics.mean(tables) / MIB)
    total = statistics.mean(private) + statistics.mean(tables)
    if len(kernel) == len(found):
        figures.add("memory per idle session, kernel", statistics.mean(kernel) / MIB)
        total += statistics.mean(kernel)
    else:
        figures.notes["memory per idle session, kernel"] = "n/a: no memory cgroup per session"
    figures.add("memory per idle session, total", total / MIB)


# --- the local pool ---------------------------------------------------------------------


@dataclass
class Pool:
    endpoint: str
    key: str
    process: subprocess.Popen
    ready: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def counts(self) -> dict[str, int]:
        return httpx.get(f"{self.endpoint}/healthz").json()["sessions"]

    def settle(self) -> None:
        """Until the ready set is full again, so that every run starts from the same state."""
        deadline = time.monotonic() + 60
        while self.counts()["ready"] < self.ready and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)

    @property
    def fork_server(self) -> int:
        return process_tree()[self.process.pid][0]

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: the pool's own, the fork server's own, and its sessions'
        processes' (live ones, and those it or they reaped)."""
        fork_server = self.fork_server
        below = descendants(fork_server)
        sessions = cpu_seconds(fork_server, reaped_children=True)
        sessions += sum(cpu_seconds(p) + cpu_seconds(p, reaped_children=True) for p in below)
        return dict(
            zip(
                CPU_PARTS,
                (cpu_seconds(self.process.pid), cpu_seconds(fork_server), sessions),
                strict=True,
            )
        )

    def sessions(self) -> list[list[int]]:
        """Each session's processes (its init and what runs below it), ready ones included."""
        tree = process_tree()
        fork_server = tree[self.process.pid][0]
        tops = [p for p in tree.get(fork_server, []) if _in_own_pid_namespace(p)]
        return [[top, *descendants(top)] for top in tops]


def _in_own_pid_namespace(pid: int) -> bool:
    """A session's top process (not the fork server of empty kernels)."""
    return len(_fields(f"/proc/{pid}/status").get("NSpid", "").split()) > 1


@contextmanager
def running_pool(ready: int | None, max_sessions: int) -> Iterator[Pool]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "SESSION_POOL_API_KEY": key,
        "SESSION_POOL_MAX_SESSIONS": str(max_sessions),
        "SESSION_POOL_LOG_LEVEL": "warning",
    }
    if ready is not None:
        env["SESSION_POOL_READY_SESSIONS"] = str(ready)
    args = [sys.executable, "-m", "sessionpool", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                httpx.get(f"{endpoint}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(f"the pool exited with {proc.returncode}")
        default = PoolSettings.model_fields["ready_sessions"].default
        pool = Pool(endpoint, key, proc, default if ready is None else ready)
        pool.settle()
        yield pool
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def _first_calls(pool: Pool, identifiers: list[str], rate: float | None) -> list[float]:
    """Seconds each first call took: paced at `rate` (timed from when it was due), or one after
    another on one connection when `rate` is None. Each must succeed."""
    idle: list[KeepAliveConnection] = []
    body = {"properties": {"code": FIRST_CODE}}

    async def call(identifier: str, due: float) -> float:
        connection = idle.pop() if idle else KeepAliveConnection(pool.endpoint, pool.headers)
        params = GEN1 | {"identifier": identifier}
        status, answer = await connection.request("POST", "/code/execute", params, body)
        took = time.perf_counter() - due
        idle.append(connection)
        if status != 200 or b'"Success"' not in answer:
            raise RuntimeError(f"a first call failed: {status} {answer[:300]!r}")
        return took

    started = time.perf_counter()
    if rate is None:
        samples = [await call(i, time.perf_counter()) for i in identifiers]
    else:

        async def paced(index: int, identifier: str) -> float:
            due = started + index / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            return await call(identifier, due)

        samples = await asyncio.gather(*(paced(i, s) for i, s in enumerate(identifiers)))
    for connection in idle:
        await connection.close()
    return list(samples)


async def _warm_calls(pool: Pool, identifier: str, calls: int) -> list[float]:
    connection = KeepAliveConnection(pool.endpoint, pool.headers)
    params, body = GEN1 | {"identifier": identifier}, {"properties": {"code": WARM_CODE}}
    await connection.request("POST", "/code/execute", params, body)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await connection.request("POST", "/code/execute", params, body)
        samples.append(time.perf_counter() - started)
    await connection.close()
    return samples


async def _open_sessions(pool: Pool, identifiers: list[str], connections: int = 8) -> int:
    """Run FIRST_CODE in each session (creating it), a few at once; how many succeeded."""
    queue = list(reversed(identifiers))
    succeeded = 0

    async def worker() -> None:
        nonlocal succeeded
        connection = KeepAliveConnection(pool.endpoint, pool.headers)
        body = {"properties": {"code": FIRST_CODE}}
        while queue:
            params = GEN1 | {"identifier": queue.pop()}
            status, answer = await connection.request("POST", "/code/execute", params, body)
            succeeded += status == 200 and b'"Success"' in answer
        await connection.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return succeeded


def _delete(pool: Pool, identifiers: list[str]) -> None:
    with httpx.Client(base_url=pool.endpoint, headers=pool.headers) as http:
        for identifier in identifiers:
            http.delete("/session", params=GEN2 | {"identifier": identifier})


def pool_round(pool: Pool, args: argparse.Namespace, number: int, figures: Figures) -> None:
    before = pool.cpu()
    for label, rate in (("paced", args.rate), ("back to back", None)):
        identifiers = [f"first-{number}-{label[0]}-{i}" for i in range(args.sessions)]
        samples = asyncio.run(_first_calls(pool, identifiers, rate))
        figures.add_latencies(f"first call, {label}", samples)
        _delete(pool, identifiers)
        pool.settle()
    spent = {part: seconds - before[part] for part, seconds in pool.cpu().items()}
    per_session = 1000 / (2 * args.sessions)
    figures.add("CPU per new session, total", sum(spent.values()) * per_session)
    for part in CPU_PARTS:
        figures.add(f"CPU per new session, {part}", spent[part] * per_session)
    warm = f"warm-{number}"
    figures.add_latencies(
        "warm 1+1, keep-alive HTTP", asyncio.run(_warm_calls(pool, warm, args.calls))
    )
    tool = SessionsPythonREPLTool(
        pool_management_endpoint=pool.endpoint,
        access_token_provider=lambda: pool.key,
        session_id=warm,
    )
    samples = []
    for _ in range(args.calls):
        started = time.perf_counter()
        tool.execute(WARM_CODE)
        samples.append(time.perf_counter() - started)
    figures.add_latencies("warm 1+1, official tool", samples)
    idle = [f"idle-{number}-{i}" for i in range(args.idle)]
    fork_server = pool.fork_server
    before = pool_kernel_bytes(fork_server)
    asyncio.run(_open_sessions(pool, idle))
    time.sleep(1)
    after = pool_kernel_bytes(fork_server)
    outside = (after - before) / len(idle) if before is not None and after is not None else 0.0
    weigh(pool.sessions(), figures, outside)
    _delete(pool, [*idle, warm])
    pool.settle()


def live_sessions(pool: Pool, live: int, figures: Figures) -> None:
    """Grow to `live` sessions, then check that every one of them still answers."""
    identifiers = [f"live-{i}" for i in range(live)]
    asyncio.run(_open_sessions(pool, identifiers))
    answered = asyncio.run(_open_sessions(pool, identifiers))
    held = pool.sessions()
    total = sum(private_bytes(p) for s in held for p in s)
    figures.notes["live sessions that all answer"] = (
        f"{answered} of {live} ({total / 2**30:.2f} GiB private, {len(held)} sessions held)"
    )
    _delete(pool, identifiers)


# --- the baseline: one Jupyter kernel per session -----------------------------------------


def _start_kernel():
    from jupyter_client.manager import start_new_kernel

    # The data stack lives in the sessions' environment only, not in the service's.
    site = runtime.site_packages(runtime.environment())
    env = {**os.environ, "PYTHONPATH": str(site)}
    return start_new_kernel(
        kernel_name="python3", startup_timeout=120, stderr=subprocess.DEVNULL, env=env
    )


def _run(client, code: str) -> None:
    client.execute_interactive(code, timeout=120, output_hook=lambda message: None)


def baseline_round(args: argparse.Namespace, figures: Figures) -> None:
    kernels = []
    first = []
    try:
        for _ in range(args.baseline_sessions):
            started = time.perf_counter()
            manager, client = _start_kernel()
            _run(client, FIRST_CODE)
            first.append(time.perf_counter() - started)
            kernels.append((manager, client))
        figures.add_latencies("first call, back to back", first)
        client = kernels[0][1]
        warm = []
        for _ in range(min(args.calls, 200)):
            started = time.perf_counter()
            _run(client, WARM_CODE)
            warm.append(time.perf_counter() - started)
        figures.add_latencies("warm 1+1, keep-alive HTTP", warm)
        weigh([[m.provisioner.process.pid] for m, _ in kernels], figures)
    finally:
        for manager, client in kernels:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


BASELINE_NOTES = {
    "first call, paced p50": "n/a: a kernel takes ~1 s to start",
    "first call, paced p99": "n/a",
    "warm 1+1, keep-alive HTTP p50": "",  # measured: through jupyter_client over ZeroMQ
    "warm 1+1, official tool p50": "n/a: no HTTP API",
    "warm 1+1, official tool p99": "n/a",
    "memory per idle session, kernel": "n/a: no cgroup per kernel",
    "CPU per new session, total": "not measured",
    "live sessions that all answer": "not tried",
}


def print_table(pool: Figures, baseline: Figures | None, args: argparse.Namespace) -> None:
    rows = list(pool.rounds) + [n for n in pool.notes if n not in pool.rounds]
    cells = [(row, pool.cell(row), _baseline_cell(baseline, row), _target(row)) for row in rows]
    header = ("figure", "local session pool", "one Jupyter kernel per session", "target")
    widths = [max(len(str(c[i])) for c in [header, *cells]) + 2 for i in range(4)]
    print()
    for line in [header, tuple("-" * (w - 2) for w in widths), *cells]:
        print("".join(f"{str(c):<{w}}" for c, w in zip(line, widths, strict=True)).rstrip())
    print(
        f"\nmin / median / max over {args.repeats} rounds (pool and kernels interleaved); "
        "latencies in ms (p50 and p99 of each round), memory in MiB.\n"
        f"first calls run {FIRST_CODE!r} on a new identifier: {args.sessions} per run, paced at "
        f"{args.rate:g}/s or back to back; warm calls {WARM_CODE!r}, {args.calls} per client "
        "(the kernels' through jupyter_client over ZeroMQ).\nCPU per new session: CPU time "
        "of the pool, the fork server and the sessions' processes over both first-call runs "
        "(each session's start, first call and deletion, refilling the ready set included), "
        "in ms per session.\nmemory: mean over "
        f"{args.idle} idle sessions plus the ready ones; kernel = slab and stacks charged to "
        "the session's cgroup, plus what the pool's own group gained per session (the fork "
        "server makes each session's namespaces before it joins its cgroup).\n"
        f"{os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end. Targets are the README's, never asserted."
    )


def _baseline_cell(baseline: Figures | None, row: str) -> str:
    if baseline is None:
        return "skipped"
    if row in baseline.rounds:
        return baseline.cell(row)
    return BASELINE_NOTES.get(row) or "n/a"


def _target(row: str) -> str:
    return TARGETS.get(row, "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"benchmarking the local session pool on {os.cpu_count()} CPUs ...", flush=True)
    pool_figures = Figures()
    baseline = None if args.skip_baseline else Figures()
    needed = max(2 * args.sessions, args.idle + 1, args.live) + 10
    with running_pool(args.ready, needed) as pool:
        for number in range(args.repeats):
            print(f"round {number + 1} of {args.repeats}: the pool ...", flush=True)
            pool_round(pool, args, number, pool_figures)
            if baseline is not None:
                print(f"round {number + 1} of {args.repeats}: Jupyter kernels ...", flush=True)
                baseline_round(args, baseline)
        print(f"{args.live} live sessions ...", flush=True)
        live_sessions(pool, args.live, pool_figures)
    print_table(pool_figures, baseline, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
