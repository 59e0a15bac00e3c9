"""Service benchmark (`python -m bench.service`, part of `make bench`): what a turn costs.

The scripted model runs in processes of its own (one answering at once, one after 500 ms per
call) and code runs in the real local pool. Each table prints min / median / max over
repeats, next to its baseline measured in the same run, interleaved with it:

- a turn over HTTP next to the same chain called in this process (the floor), sample by
  sample, and the service's CPU per turn (`/proc/<pid>/stat` of its one worker);
- 1 against 64 concurrent conversations with the slow model, on both routes, with the
  service as `make run` starts it (WORKERS workers);
- a turn with 10 against 100,000 conversations stored, turn by turn.

`--quick` runs a small version to check that it works. Figures are printed, never asserted.
"""

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from langchain_core.messages import AIMessage, HumanMessage

from bench.load_proc import start_scripted_llm
from conversations.databases import SQLITE_FILE
from security.auth import ANONYMOUS
from serve import default_workers
from settings import Settings
from tests.support.servers import free_port, running_server, running_service
from wiring import Services, build_conversations, build_services

MESSAGES = {"direct": "hello there", "python": "What is 25 * 847?"}
SLOW_MODEL_SECONDS = 0.5
TARGET_CPU_MS = {"direct": 5.0, "python": 10.0}
TARGET_CONCURRENCY_RATIO = 1.2
TARGET_STORED_RATIO = 1.10
STORE_SEED_USER = "stored"


@dataclass
class Plan:
    repeats: int
    turns: int
    concurrent: int
    stored: int


FULL = Plan(repeats=5, turns=20, concurrent=64, stored=100_000)
QUICK = Plan(repeats=2, turns=4, concurrent=8, stored=1_000)


def spread(values: list[float], scale: float = 1000.0, width: int = 8) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return "".join(f"{value * scale:{width}.1f}" for value in (low, mid, high))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of `pid` so far (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def new_config() -> dict:
    return {"configurable": {"conversation_id": uuid.uuid4().hex}}


class HttpTarget:
    """The service over HTTP, as clients call it."""

    def __init__(self, url: str, connections: int = 128) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = httpx.AsyncClient(base_url=url, timeout=300, limits=limits)

    async def invoke(self, message: str, config: dict) -> dict:
        body = {"input": {"message": message}, "config": config}
        response = await self.http.post("/chat/invoke", json=body)
        response.raise_for_status()
        return response.json()["output"]


class InProcessTarget:
    """The same chain, built the same way, called after the claim the server makes per
    request: the floor."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def invoke(self, message: str, config: dict) -> dict:
        conversation_id = config["configurable"]["conversation_id"]
        conversation = await self.svc.conversations.claim(ANONYMOUS, conversation_id)
        run_config = {"configurable": conversation.configurable()}
        return await self.svc.chat.ainvoke({"message": message}, run_config)


async def timed(call: Awaitable) -> float:
    """Seconds until `call` (a coroutine, which runs only once awaited) is done."""
    start = time.perf_counter()
    await call
    return time.perf_counter() - start


async def turn_costs(floor: InProcessTarget, http: HttpTarget, pid: int, plan: Plan) -> None:
    """Latency per turn, floor and HTTP interleaved, and the service's CPU per HTTP turn."""
    print(f"\nturn over HTTP vs in-process (ms; min / median / max of {plan.repeats} medians")
    print(f"of {plan.turns} turns; CPU per turn of the service's worker)")
    header = ("floor", "HTTP", "overhead", "service CPU")
    print(f"{'':<8}" + "".join(f"{h:^24}" for h in header) + f"{'CPU target':>12}")
    for route, message in MESSAGES.items():
        floors, https, overheads, cpus = [], [], [], []
        for _ in range(plan.repeats):
            configs = new_config(), new_config()
            await floor.invoke(message, configs[0])  # the conversation and its session
            await http.invoke(message, configs[1])
            f_samples, h_samples, cpu = [], [], 0.0
            for _ in range(plan.turns):
                f_samples.append(await timed(floor.invoke(message, configs[0])))
                before = cpu_seconds(pid)
                h_samples.append(await timed(http.invoke(message, configs[1])))
                cpu += cpu_seconds(pid) - before
            floors.append(statistics.median(f_samples))
            https.append(statistics.median(h_samples))
            overheads.append(https[-1] - floors[-1])
            cpus.append(cpu / plan.turns)
        row = "".join(spread(values) for values in (floors, https, overheads, cpus))
        print(f"{route:<8}{row}{TARGET_CPU_MS[route]:>10.1f} ms")


async def concurrency(http: HttpTarget, plan: Plan, workers: int) -> None:
    """Wall time of one turn alone and of `plan.concurrent` turns at once, slow model."""
    print(f"\n{SLOW_MODEL_SECONDS * 1000:.0f} ms per model call, {workers} workers: wall time of")
    print(f"turns started together (s; min / median / max of {plan.repeats})")
    header = ("1 conversation", f"{plan.concurrent} conversations", "ratio")
    print(f"{'':<8}" + "".join(f"{h:^24}" for h in header) + f"{'target':>10}")
    for route, message in MESSAGES.items():
        alone, together, ratios = [], [], []
        for _ in range(plan.repeats):
            alone.append(await timed(http.invoke(message, new_config())))
            calls = [http.invoke(message, new_config()) for _ in range(plan.concurrent)]
            together.append(await timed(asyncio.gather(*calls)))
            ratios.append(together[-1] / alone[-1])
        row = spread(alone, 1) + spread(together, 1) + spread(ratios, 1)
        print(f"{route:<8}{row}{TARGET_CONCURRENCY_RATIO:>9.1f}x")


async def stored_scaling(few: HttpTarget, many: HttpTarget, plan: Plan) -> None:
    """A direct turn against a store of 10 and one of `plan.stored` conversations, alternated."""
    print(f"\ndirect turn with conversations stored (ms; min / median / max of {plan.repeats}")
    print(f"medians of {plan.turns} turns, alternated)")
    header = ("10 stored", f"{plan.stored:,} stored", "ratio")
    print(f"{'':<8}" + "".join(f"{h:^24}" for h in header) + f"{'target':>10}")
    small, large, ratios = [], [], []
    for _ in range(plan.repeats):
        configs = new_config(), new_config()
        samples: tuple[list[float], list[float]] = ([], [])
        for _ in range(plan.turns + 1):
            for target, config, kept in zip((few, many), configs, samples, strict=True):
                kept.append(await timed(target.invoke(MESSAGES["direct"], config)))
        small.append(statistics.median(samples[0][1:]))
        large.append(statistics.median(samples[1][1:]))
        ratios.append(large[-1] / small[-1])
    row = spread(small) + spread(large) + spread(ratios, 1)
    print(f"{'direct':<8}{row}{TARGET_STORED_RATIO:>9.2f}x")


def seed_store(data_dir: Path, count: int) -> None:
    """`count` conversations with one turn each, as the service stores them: one made through
    the store and the memory, then copied in SQL (owners, titles, checkpoints, writes)."""
    settings = Settings(_env_file=None, data_dir=data_dir)
    template = f"{STORE_SEED_USER}/template"

    async def one_turn() -> None:
        conversations = build_conversations(settings)
        await conversations.start()
        turn = [HumanMessage("hello there"), AIMessage("Hello from the scripted model.")]
        await conversations.memory.append(template, turn)
        await conversations.close()

    asyncio.run(one_turn())
    with sqlite3.connect(data_dir / SQLITE_FILE) as db:
        db.execute(
            "CREATE TEMP TABLE n_ids AS WITH RECURSIVE n(i) AS "
            "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i FROM n",
            (count,),
        )
        db.execute(
            "INSERT INTO conversation_owners (id, user_id) SELECT 'seed-' || i, ? FROM n_ids",
            (STORE_SEED_USER,),
        )
        db.execute(
            "INSERT INTO conversations (user_id, id, title, updated_at, created_at) "
            "SELECT ?, 'seed-' || i, 'hello there', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
            "FROM n_ids",
            (STORE_SEED_USER,),
        )
        for table in ("checkpoints", "writes"):
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            copied = ", ".join(
                f"'{STORE_SEED_USER}/seed-' || i" if c == "thread_id" else c for c in columns
            )
            db.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {copied} "
                f"FROM {table}, n_ids WHERE thread_id = ?",
                (template,),
            )


def model_env(llm_url: str) -> dict[str, str]:
    return {"OPENAI_BASE_URL": f"{llm_url}/v1", "OPENAI_API_KEY": "bench"}


async def run(urls: dict[str, str], pid: int, floor_env: dict[str, str], plan: Plan) -> None:
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in floor_env.items()})
    svc = build_services(settings)
    await svc.start()
    try:
        await turn_costs(InProcessTarget(svc), HttpTarget(urls["single"]), pid, plan)
    finally:
        await svc.stop()
    await concurrency(HttpTarget(urls["slow"]), plan, default_workers())
    await stored_scaling(HttpTarget(urls["few"]), HttpTarget(urls["many"]), plan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run that checks it works")
    plan = QUICK if parser.parse_args(argv).quick else FULL
    key = uuid.uuid4().hex
    pool_port = free_port()
    pool_url = f"http://127.0.0.1:{pool_port}"
    print(f"bench.service: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
    with ExitStack() as stack:
        fast = stack.enter_context(start_scripted_llm())
        slow = stack.enter_context(start_scripted_llm(SLOW_MODEL_SECONDS))
        pool_env = {"SESSION_POOL_API_KEY": key, "SESSION_POOL_MAX_SESSIONS": "600"}
        pool_args = ["-m", "sessionpool", "--host", "127.0.0.1", "--port", str(pool_port)]
        stack.enter_context(running_server(pool_args, f"{pool_url}/healthz", env=pool_env))
        pool = {"POOL_MANAGEMENT_ENDPOINT": pool_url, "SESSION_POOL_API_KEY": key}
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        dirs = {name: folder / name for name in ("floor", "single", "slow", "few", "many")}
        for path in dirs.values():
            path.mkdir()
        seed_store(dirs["few"], 10)
        seed_store(dirs["many"], plan.stored)
        fast_env, slow_env = {**pool, **model_env(fast)}, {**pool, **model_env(slow)}
        urls, pids = {}, {}
        for name, env, workers in (
            ("single", fast_env, 1),
            ("slow", slow_env, default_workers()),
            ("few", fast_env, 1),
            ("many", fast_env, 1),
        ):
            started = running_service(
                {**env, "WORKERS": str(workers)}, dirs[name], "--no-access-log", timeout=600
            )
            url, proc = stack.enter_context(started)
            urls[name], pids[name] = url, proc.pid
        floor_env = {**fast_env, "DATA_DIR": str(dirs["floor"])}
        asyncio.run(run(urls, pids["single"], floor_env, plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
