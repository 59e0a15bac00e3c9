"""Service benchmark: /chat over HTTP next to the same chain called in-process (the floor).

Run with `python -m bench.service`. The model is the scripted chat-completions server, so it
answers at once (or after a fixed delay); the pool is the real local pool. Figures are
printed, never asserted.
"""

import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

from security.auth import ANONYMOUS
from settings import Settings
from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain
from tests.support.servers import free_port, running_server, running_service
from wiring import Services, build_services

MESSAGES = {"direct": "hello there", "python": "What is 25 * 847?"}
SAMPLES = {"direct": 200, "python": 100}
CONCURRENCY = (1, 16, 64)
SLOW_MODEL_SECONDS = 0.5


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:10.1f}"


def new_config() -> dict:
    return {"configurable": {"conversation_id": uuid.uuid4().hex}}


class HttpTarget:
    """The service over HTTP, as clients call it."""

    name = "HTTP"

    def __init__(self, url: str) -> None:
        limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
        self.http = httpx.AsyncClient(base_url=url, timeout=120, limits=limits)

    async def invoke(self, message: str, config: dict) -> dict:
        body = {"input": {"message": message}, "config": config}
        response = await self.http.post("/chat/invoke", json=body)
        response.raise_for_status()
        return response.json()["output"]

    async def first_token(self, message: str, config: dict) -> None:
        body = {"input": {"message": message}, "config": config}
        async with self.http.stream("POST", "/chat/stream", json=body) as response:
            lines = response.aiter_lines()
            async for line in lines:
                if line.startswith("data:") and json.loads(line[5:]).get("output"):
                    break
            await lines.aclose()  # here, not later in the garbage collector


class InProcessTarget:
    """The same chain, built the same way, called directly after the claim the server makes
    per request: the floor."""

    name = "in-process"

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def _config(self, config: dict) -> dict:
        conversation_id = config["configurable"]["conversation_id"]
        conversation = await self.svc.conversations.claim(ANONYMOUS, conversation_id)
        return {"configurable": conversation.configurable()}

    async def invoke(self, message: str, config: dict) -> dict:
        return await self.svc.chat.ainvoke({"message": message}, await self._config(config))

    async def first_token(self, message: str, config: dict) -> None:
        stream = self.svc.chat.astream({"message": message}, await self._config(config))
        # Closed here, not later in the garbage collector (which complains about it).
        async with contextlib.aclosing(stream) as chunks:
            async for chunk in chunks:
                if chunk.get("output"):
                    return


async def timed(call: Callable[[], Awaitable]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def latencies(target, route: str, stream: bool) -> list[float]:
    config = new_config()
    run = target.first_token if stream else target.invoke
    await run(MESSAGES[route], config)  # warm up the conversation and its session
    return [await timed(lambda: run(MESSAGES[route], config)) for _ in range(SAMPLES[route])]


async def throughput(target, conversations: int, turns: int, route: str = "direct") -> float:
    """Turns per second with `conversations` running at once, `turns` each."""

    async def conversation() -> None:
        config = new_config()
        for _ in range(turns):
            await target.invoke(MESSAGES[route], config)

    elapsed = await timed(lambda: asyncio.gather(*(conversation() for _ in range(conversations))))
    return conversations * turns / elapsed


async def wall_time(target, conversations: int) -> float:
    calls = (target.invoke(MESSAGES["direct"], new_config()) for _ in range(conversations))
    return await timed(lambda: asyncio.gather(*calls))


def print_latency_row(label: str, floor: list[float], http: list[float]) -> None:
    p50f, p99f, p50h, p99h = (percentile(s, q) for s in (floor, http) for q in (0.5, 0.99))
    print(f"{label:<34}{ms(p50f)}{ms(p99f)}{ms(p50h)}{ms(p99h)}{ms(p50h - p50f)}")


async def measure(targets: list, llm: ScriptedLLM) -> None:
    floor, http = targets
    columns = ("floor p50", "floor p99", "HTTP p50", "HTTP p99", "overhead")
    print(f"\n{'latency (ms)':<34}" + "".join(f"{c:>10}" for c in columns))
    for route in ("direct", "python"):
        for stream, label in ((False, f"/chat/invoke, {route} route"), (True, "first token")):
            samples = [await latencies(t, route, stream) for t in targets]
            print_latency_row(f"{label} ({route})" if stream else label, *samples)

    print(f"\n{'throughput (turns/s, direct route)':<40}{'floor':>10}{'HTTP':>10}")
    for conversations in CONCURRENCY:
        rates = [await throughput(t, conversations, turns=4) for t in targets]
        print(f"{f'{conversations} concurrent conversations':<40}{rates[0]:10.1f}{rates[1]:10.1f}")

    llm.brain = lambda body: _slowly(arithmetic_brain(body))
    print(f"\nmodel taking {SLOW_MODEL_SECONDS * 1000:.0f} ms per call (2 calls per turn)")
    print(f"{'wall time of one turn (s)':<40}{'floor':>10}{'HTTP':>10}")
    for conversations in (1, 64):
        walls = [await wall_time(t, conversations) for t in targets]
        print(f"{f'{conversations} concurrent conversations':<40}{walls[0]:10.2f}{walls[1]:10.2f}")
    llm.brain = arithmetic_brain
    await http.http.aclose()


def _slowly(reply):
    reply.delay = SLOW_MODEL_SECONDS
    return reply


def settings_env(llm: ScriptedLLM, pool_url: str, key: str, data_dir: str) -> dict[str, str]:
    return {
        "AZURE_OPENAI_ENDPOINT": llm.url,
        "AZURE_OPENAI_API_KEY": "bench",
        "POOL_MANAGEMENT_ENDPOINT": pool_url,
        "SESSION_POOL_API_KEY": key,
        "DATA_DIR": data_dir,
    }


async def run_floor(env: dict[str, str], http_url: str, llm: ScriptedLLM) -> None:
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
    svc = build_services(settings)
    await svc.start()
    try:
        await measure([InProcessTarget(svc), HttpTarget(http_url)], llm)
    finally:
        await svc.stop()


def main() -> int:
    key = secrets.token_urlsafe(16)
    pool_port = free_port()
    pool_url = f"http://127.0.0.1:{pool_port}"
    with ExitStack() as stack:
        llm = stack.enter_context(ScriptedLLM(arithmetic_brain))
        pool_env = {"SESSION_POOL_API_KEY": key, "SESSION_POOL_MAX_SESSIONS": "400"}
        pool_args = ["-m", "sessionpool", "--host", "127.0.0.1", "--port", str(pool_port)]
        stack.enter_context(running_server(pool_args, f"{pool_url}/healthz", env=pool_env))
        data_dir = stack.enter_context(tempfile.TemporaryDirectory())
        env = settings_env(llm, pool_url, key, data_dir)
        # Started like `make run`, with the per-user limits lifted: one caller sends every turn.
        url, _ = stack.enter_context(running_service(env, Path(data_dir), "--log-level", "warning"))
        Path(data_dir, "floor").mkdir()
        floor_env = {**env, "DATA_DIR": str(Path(data_dir, "floor"))}
        print(f"bench.service: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        asyncio.run(run_floor(floor_env, url, llm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
