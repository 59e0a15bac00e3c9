"""`make load`: N concurrent conversations against the service for D seconds, from another process.

Each conversation alternates the LangServe route (POST /chat/invoke) and the plain one
(GET /chat), and the router's two ways (a python turn, a follow-up on "that", a chat turn).
Prints requests served, errors, wrong answers, p50/p95/p99 latency and the service's memory
before and after. Without --url it starts the scripted model and the service itself (which
starts the real local session pool).
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.load_proc import (
    pid_listening_on,
    rss_kib,
    start_scripted_llm,
    start_service,
    tree_pss_kib,
)


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    wrong: int = 0


def turn(conversation: int, step: int) -> tuple[str, str | None]:
    """The message of a step and the text its answer must contain (None: any answer)."""
    a, b = conversation + 2, step + 3
    kind = step % 3
    if kind == 0:
        return f"what is {a} * {b}?", str(a * b)
    if kind == 1:
        return "what is the square root of that?", None
    return "hello, how are you today?", None


async def send(client: httpx.AsyncClient, step: int, message: str, conversation_id: str):
    if step % 2 == 0:
        body = {
            "input": {"message": message},
            "config": {"configurable": {"conversation_id": conversation_id}},
        }
        response = await client.post("/chat/invoke", json=body)
        return response, lambda: response.json()["output"]["output"]
    params = {"message": message, "conversation_id": conversation_id}
    response = await client.get("/chat", params=params)
    return response, lambda: response.json()["output"]


async def converse(client: httpx.AsyncClient, number: int, deadline: float, results: Results):
    conversation_id, step = str(uuid.uuid4()), 0
    while time.monotonic() < deadline:
        message, expected = turn(number, step)
        started = time.perf_counter()
        try:
            response, output = await send(client, step, message, conversation_id)
        except httpx.HTTPError as exc:
            results.errors[type(exc).__name__] += 1
            step += 1
            continue
        results.latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            results.errors[f"HTTP {response.status_code}"] += 1
        elif expected is not None and expected not in str(output()):
            results.wrong += 1
        step += 1


async def run_load(
    url: str, conversations: int, duration: float, headers: dict, warm: Callable[[], None]
) -> Results:
    results = Results()
    # Every conversation has its session by then: from here on, memory should stay flat.
    asyncio.get_running_loop().call_later(duration / 4, warm)
    limits = httpx.Limits(max_connections=conversations, max_keepalive_connections=conversations)
    timeout = httpx.Timeout(120.0, connect=10.0)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=timeout
    ) as client:
        deadline = time.monotonic() + duration
        await asyncio.gather(
            *(converse(client, n, deadline, results) for n in range(conversations))
        )
    return results


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def print_report(results: Results, elapsed: float, memory_at: dict[str, dict]) -> None:
    served = len(results.latencies) - sum(
        v for k, v in results.errors.items() if k.startswith("HTTP")
    )
    errors = sum(results.errors.values())
    print(f"requests served: {served} in {elapsed:.1f} s ({served / elapsed:.1f}/s)")
    print(f"errors: {errors} {dict(results.errors) if errors else ''}".rstrip())
    print(f"wrong answers: {results.wrong}")
    if results.latencies:
        ordered = sorted(results.latencies)
        figures = [f"p{q}={percentile(ordered, q) * 1000:.0f} ms" for q in (50, 95, 99)]
        print(f"latency: {' '.join(figures)} mean={statistics.fmean(ordered) * 1000:.0f} ms")
    for name in memory_at["before"]:
        figures = ", ".join(f"{at} {m[name] / 1024:.1f}" for at, m in memory_at.items() if m)
        print(f"{name} (MiB): {figures}")


def memory(pid: int | None) -> dict[str, int]:
    if pid is None:
        return {}
    return {
        f"RSS of the service (pid {pid})": rss_kib(pid),
        "PSS of the service, the pool and its sessions": tree_pss_kib(pid),
    }


@contextmanager
def target(args: argparse.Namespace):
    """The base URL and the service's pid: given, found by port, or started here."""
    if args.url:
        port = httpx.URL(args.url).port or (443 if args.url.startswith("https") else 80)
        yield args.url.rstrip("/"), args.pid or pid_listening_on(port)
        return
    with ExitStack() as stack:
        llm_url = stack.enter_context(start_scripted_llm())
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-")))
        yield stack.enter_context(start_service(llm_url, data_dir, args.conversations))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running service; unset: start one here")
    parser.add_argument("--pid", type=int, help="the service's pid (default: found by port)")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--api-key", default=os.environ.get("LOAD_API_KEY"))
    args = parser.parse_args(argv)
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    with target(args) as (url, pid):
        if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
            print("refusing to load anything but a loopback address", file=sys.stderr)
            return 2
        memory_at = {"before": memory(pid), "after 1/4 of the run": {}}
        started = time.monotonic()
        results = asyncio.run(
            run_load(
                url,
                args.conversations,
                args.duration,
                headers,
                lambda: memory_at["after 1/4 of the run"].update(memory(pid)),
            )
        )
        elapsed = time.monotonic() - started
        memory_at["after"] = memory(pid)
        print_report(results, elapsed, memory_at)
    return 1 if results.errors or results.wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
