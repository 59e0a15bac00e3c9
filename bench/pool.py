"""`python -m bench.pool`: the local session pool side by side with one Jupyter kernel per session.

Prints figures; asserts nothing. Sizes are flags, so `--quick` gives a rough picture fast.
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
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.keepalive import KeepAliveConnection
from sessionpool import runtime
from sessionpool.linux import descendants, process_tree

warnings.filterwarnings("ignore", message=".*langchain-azure-compute.*")
from langchain_azure_dynamic_sessions import SessionsPythonREPLTool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIRST_CODE = "import numpy, pandas, matplotlib.pyplot\n1 + 1"
WARM_CODE = "1 + 1"
GEN1 = {"api-version": "2024-02-02-preview"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pool", description=__doc__)
    parser.add_argument("--sessions", type=int, default=100, help="new sessions timed")
    parser.add_argument("--interval", type=float, default=0.05, help="pause between new sessions")
    parser.add_argument("--calls", type=int, default=1000, help="warm calls timed")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per throughput run")
    parser.add_argument("--idle", type=int, default=100, help="live sessions for memory")
    parser.add_argument("--live", type=int, default=500, help="live sessions that must answer")
    parser.add_argument("--ready", type=int, default=4, help="SESSION_POOL_READY_SESSIONS")
    parser.add_argument("--baseline-sessions", type=int, default=30, help="kernels timed")
    parser.add_argument("--baseline-calls", type=int, default=300)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.calls, args.idle, args.live, args.duration = 20, 200, 20, 40, 1.0
        args.concurrency, args.baseline_sessions, args.baseline_calls = [4, 16], 5, 50
    return args


def percentiles(samples: list[float]) -> str:
    if not samples:
        return "n/a"
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return f"{at(0.5):.2f} / {at(0.95):.2f} / {at(0.99):.2f} ms (n={len(samples)})"


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def private_bytes(pid: int) -> int:
    """USS: the pages only this process holds."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as file:
            fields = dict(line.split(":", 1) for line in file if ":" in line)
    except OSError:
        return 0
    return sum(int(fields[k].split()[0]) * 1024 for k in ("Private_Clean", "Private_Dirty"))


# --- the local pool ---------------------------------------------------------------------


@contextmanager
def running_pool(ready: int, max_sessions: int) -> Iterator[tuple[str, str, subprocess.Popen]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "SESSION_POOL_API_KEY": key,
        "SESSION_POOL_READY_SESSIONS": str(ready),
        "SESSION_POOL_MAX_SESSIONS": str(max_sessions),
        "SESSION_POOL_LOG_LEVEL": "warning",
    }
    args = [sys.executable, "-m", "sessionpool", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{endpoint}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        time.sleep(1)  # let the ready sessions fill
        yield endpoint, key, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure_pool(args: argparse.Namespace) -> dict[str, str]:
    figures = {}
    needed = max(args.sessions, args.idle, args.live, max(args.concurrency)) + 10
    with running_pool(args.ready, needed) as (endpoint, key, proc):

        def tool(identifier: str) -> SessionsPythonREPLTool:
            return SessionsPythonREPLTool(
                pool_management_endpoint=endpoint,
                access_token_provider=lambda: key,
                session_id=identifier,
            )

        first = []
        for index in range(args.sessions):
            session = tool(f"first-{index}")
            first.append(timed(lambda s=session: s.execute(FIRST_CODE)))
            time.sleep(args.interval)
        figures["first call, new identifier"] = percentiles(first)
        _delete_all(endpoint, key, [f"first-{i}" for i in range(args.sessions)])

        warm_tool = tool("warm")
        warm_tool.execute(WARM_CODE)
        figures["warm 1+1, official client"] = percentiles(
            [timed(lambda: warm_tool.execute(WARM_CODE)) for _ in range(args.calls)]
        )
        with httpx.Client(base_url=endpoint, headers={"Authorization": f"Bearer {key}"}) as http:
            params = GEN1 | {"identifier": "warm"}
            body = {"properties": {"code": WARM_CODE}}
            figures["warm 1+1, keep-alive HTTP"] = percentiles(
                [
                    timed(lambda: http.post("/code/execute", params=params, json=body))
                    for _ in range(args.calls)
                ]
            )
        for level in args.concurrency:
            rate = asyncio.run(_pool_throughput(endpoint, key, level, args.duration))
            figures[f"throughput, {level} sessions"] = f"{rate:,.0f} calls/s"
        figures["private memory per idle session"] = _pool_memory(endpoint, key, proc, args.idle)
        figures[f"{args.live} live sessions"] = _live_sessions(endpoint, key, proc, args.live)
    return figures


def _delete_all(endpoint: str, key: str, identifiers: list[str]) -> None:
    with httpx.Client(base_url=endpoint, headers={"Authorization": f"Bearer {key}"}) as http:
        for identifier in identifiers:
            http.delete(
                "/session", params={"identifier": identifier, "api-version": "2025-02-02-preview"}
            )


async def _pool_throughput(endpoint: str, key: str, level: int, duration: float) -> float:
    """Calls per second from `level` sessions at once, each on its own keep-alive connection."""
    headers = {"Authorization": f"Bearer {key}"}
    identifiers = [f"load-{level}-{i}" for i in range(level)]
    connections = [KeepAliveConnection(endpoint, headers) for _ in identifiers]

    async def call(connection: KeepAliveConnection, identifier: str) -> None:
        params = GEN1 | {"identifier": identifier}
        body = {"properties": {"code": WARM_CODE}}
        status, _ = await connection.request("POST", "/code/execute", params, body)
        if status != 200:
            raise RuntimeError(f"the pool answered {status}")

    # Every session created first, on another client: a keep-alive connection left idle while
    # the others' sessions start (seconds on a loaded machine) would be closed by the server.
    await asyncio.to_thread(_open_sessions, endpoint, key, identifiers)
    done = 0
    deadline = time.perf_counter() + duration

    async def worker(connection: KeepAliveConnection, identifier: str) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call(connection, identifier)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*map(worker, connections, identifiers))
    elapsed = time.perf_counter() - started
    for connection in connections:
        await connection.close()
    _delete_all(endpoint, key, identifiers)
    return done / elapsed


def _open_sessions(endpoint: str, key: str, identifiers: list[str]) -> int:
    """Run FIRST_CODE in each session (creating it); how many answered with success."""
    with httpx.Client(
        base_url=endpoint, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as http:
        answers = [
            http.post(
                "/code/execute",
                params=GEN1 | {"identifier": identifier},
                json={"properties": {"code": FIRST_CODE}},
            )
            for identifier in identifiers
        ]
    succeeded = [
        a.status_code == 200 and a.json()["properties"]["status"] == "Success" for a in answers
    ]
    return sum(succeeded)


def _session_memory(endpoint: str, key: str, proc: subprocess.Popen) -> tuple[int, int, int]:
    """(sessions held, their private bytes, their processes), ready sessions included."""
    time.sleep(1)
    counts = httpx.get(f"{endpoint}/healthz").json()["sessions"]
    # Sessions hang below the fork server, the pool's only child process.
    processes = [p for z in process_tree().get(proc.pid, []) for p in descendants(z)]
    total = sum(private_bytes(p) for p in processes)
    return counts["live"] + counts["ready"], total, len(processes)


def _pool_memory(endpoint: str, key: str, proc: subprocess.Popen, idle: int) -> str:
    _open_sessions(endpoint, key, [f"idle-{i}" for i in range(idle)])
    holders, total, processes = _session_memory(endpoint, key, proc)
    per_session = total / max(holders, 1) / 2**20
    return f"{per_session:.1f} MiB ({holders} sessions incl. ready ones, {processes} processes)"


def _live_sessions(endpoint: str, key: str, proc: subprocess.Popen, live: int) -> str:
    """Grow to `live` sessions, then check that every one of them still answers."""
    identifiers = [f"idle-{i}" for i in range(live)]  # the first ones exist already
    _open_sessions(endpoint, key, identifiers)
    answered = _open_sessions(endpoint, key, identifiers)
    holders, total, processes = _session_memory(endpoint, key, proc)
    return (
        f"{answered} of {live} answer; {total / 2**30:.2f} GiB private memory "
        f"({holders} sessions incl. ready ones, {processes} processes)"
    )


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


def measure_baseline(args: argparse.Namespace) -> dict[str, str]:
    figures = {}
    kernels = []
    first = []
    try:
        for _ in range(args.baseline_sessions):
            started = time.perf_counter()
            manager, client = _start_kernel()
            _run(client, FIRST_CODE)
            first.append(time.perf_counter() - started)
            kernels.append((manager, client))
        figures["first call, new identifier"] = percentiles(first)
        client = kernels[0][1]
        warm = [timed(lambda: _run(client, WARM_CODE)) for _ in range(args.baseline_calls)]
        figures["warm 1+1, official client"] = "n/a (no HTTP API)"
        figures["warm 1+1, keep-alive HTTP"] = "n/a"
        figures["warm 1+1, kernel client"] = percentiles(warm)
        pids = [m.provisioner.process.pid for m, _ in kernels]
        mean = statistics.mean(private_bytes(p) for p in pids) / 2**20
        figures["private memory per idle session"] = f"{mean:.1f} MiB ({len(pids)} kernels)"
        estimate = mean * args.live / 1024
        figures[f"{args.live} live sessions"] = f"not tried: about {estimate:.0f} GiB of kernels"
        for level in args.concurrency:
            while len(kernels) < level:
                kernels.append(_start_kernel())
            rate = _baseline_throughput([c for _, c in kernels[:level]], args.duration)
            figures[f"throughput, {level} sessions"] = f"{rate:,.0f} calls/s"
    finally:
        for manager, client in kernels:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return figures


def _baseline_throughput(clients: list, duration: float) -> float:
    done = [0] * len(clients)
    deadline = time.perf_counter() + duration

    def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            _run(clients[index], WARM_CODE)
            done[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(clients))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def print_table(pool: dict[str, str], baseline: dict[str, str]) -> None:
    rows = list(pool) + [k for k in baseline if k not in pool]
    width = max(len(r) for r in rows) + 2
    column = max([len(v) for v in (*pool.values(), *baseline.values())] + [24]) + 2
    print(f"\n{'figure':<{width}}{'local session pool':<{column}}one Jupyter kernel per session")
    print("-" * (width + 2 * column))
    for row in rows:
        print(f"{row:<{width}}{pool.get(row, 'n/a'):<{column}}{baseline.get(row, 'skipped')}")
    print(
        "\nlatencies are p50 / p95 / p99; first call runs "
        f"{FIRST_CODE!r} on a new identifier;\ntargets (2-core machine): first call p50 <= 10 ms, "
        "warm p50 <= 1.5 ms over keep-alive HTTP, <= 8 MiB private memory per idle session, "
        "500 live sessions"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"benchmarking the local session pool on {os.cpu_count()} CPUs ...", flush=True)
    pool = measure_pool(args)
    baseline = {}
    if not args.skip_baseline:
        print("benchmarking the baseline: one Jupyter kernel per session ...", flush=True)
        baseline = measure_baseline(args)
    print_table(pool, baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
