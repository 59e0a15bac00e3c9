"""`make run`: the service on WORKERS processes that share one local pool and one store.

uvicorn's own supervisor runs the workers (`uvicorn.run(..., workers=N)`); each imports
`server:app`. Before they start, this process makes or migrates the store's tables once (so
workers starting together do not race to create them) and, unless POOL_MANAGEMENT_ENDPOINT
names a pool, starts the local session pool once and supervises it, handing every worker its
endpoint and key. With one worker the app starts its pool itself, as `uvicorn server:app` does.
"""

import argparse
import asyncio
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from settings import Settings

MAX_DEFAULT_WORKERS = 4
# How long a worker may take to answer uvicorn's health check (uvicorn's default: 5 s); a
# worker starting on a busy machine takes longer, and would be killed and started again.
WORKER_HEALTHCHECK_SECONDS = 60


def default_workers() -> int:
    return min(usable_cpus(), MAX_DEFAULT_WORKERS)


def usable_cpus() -> int:
    """The CPUs this process may run on, within its cgroup's CPU quota where it has one: in a
    container `os.cpu_count()` counts the host's (Azure Container Apps gives a quota instead)."""
    cpus = len(os.sched_getaffinity(0))
    for path, read in CPU_QUOTA_FILES:
        try:
            quota, period = read(path)
        except (OSError, ValueError):
            continue
        if quota > 0 and period > 0:
            cpus = min(cpus, max(1, math.ceil(quota / period)))
        break
    return cpus


def _cpu_max(path: str) -> tuple[int, int]:
    """cgroup v2: "QUOTA PERIOD", QUOTA "max" when there is none."""
    quota, period = Path(path).read_text().split()
    return (-1 if quota == "max" else int(quota)), int(period)


def _cfs_quota(path: str) -> tuple[int, int]:
    """cgroup v1: the quota (-1 for none) and the period, in files of their own."""
    return int(Path(path).read_text()), int(Path(path).with_name("cpu.cfs_period_us").read_text())


CPU_QUOTA_FILES = (
    ("/sys/fs/cgroup/cpu.max", _cpu_max),
    ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", _cfs_quota),
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args, uvicorn_flags = parser.parse_known_args(argv)
    settings = Settings()
    workers = settings.workers or default_workers()
    serve = {"host": args.host, "port": args.port, **_uvicorn_options(uvicorn_flags)}
    if workers == 1:
        uvicorn.run("server:app", **serve)
        return
    asyncio.run(_prepare_store(settings))
    with _shared_pool(settings) as pool_env:
        os.environ.update(pool_env)
        os.environ["WORKERS"] = str(workers)  # each worker knows it has siblings
        uvicorn.run(
            "server:app",
            workers=workers,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            **serve,
        )


def _uvicorn_options(flags: list[str]) -> dict:
    """The few uvicorn flags tests and benchmarks pass through (--log-level, --no-access-log)."""
    parser = argparse.ArgumentParser(prog="python -m serve")
    parser.add_argument("--log-level", default=None)
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    options = vars(parser.parse_args(flags))
    return {key: value for key, value in options.items() if value is not None}


async def _prepare_store(settings: Settings) -> None:
    # Imported here: each worker starts by importing this module (multiprocessing's spawn),
    # and should reach uvicorn's health check quickly.
    from wiring import build_conversations

    conversations = build_conversations(settings)
    await conversations.start()
    await conversations.close()


@contextmanager
def _shared_pool(settings: Settings) -> Iterator[dict[str, str]]:
    """The environment that points workers at one local pool, supervised here on an event loop
    of its own (the pool stops with this process, even when it is killed)."""
    if settings.pool_management_endpoint:
        yield {}
        return
    from tools.local_pool import LocalSessionPool

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="local-pool", daemon=True)
    thread.start()
    pool = LocalSessionPool()
    asyncio.run_coroutine_threadsafe(pool.start(), loop).result()
    try:
        yield {"POOL_MANAGEMENT_ENDPOINT": pool.endpoint, "SESSION_POOL_API_KEY": pool.token()}
    finally:
        asyncio.run_coroutine_threadsafe(pool.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


if __name__ == "__main__":
    main()
