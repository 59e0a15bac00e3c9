"""One save of a conversation's memory at a time, across every worker process.

A save reads the thread's latest checkpoint and writes the next one, so two workers saving
the same conversation at once would each write a checkpoint missing the other's turn. An
asyncio lock orders the saves of one process; these order them across processes: on
PostgreSQL with an advisory lock (every replica sharing the database), on SQLite with
`flock` on a file next to the database (every worker on the host).
"""

import asyncio
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

LOCK_FILES = 256
RETRY_SECONDS = 0.005


class SaveLocks(Protocol):
    def hold(self, key: str) -> AbstractAsyncContextManager[None]: ...


def _number(key: str) -> int:
    """A signed 64-bit number for `key` (PostgreSQL's advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class FileLocks:
    """`flock` on one of LOCK_FILES files in `folder`, chosen by the key. Each holder opens
    its own file description, so holders in one process exclude each other too; the kernel
    drops a lock whose process died."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._folder / f"{_number(key) % LOCK_FILES}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    # Polled rather than waited for in a thread: waiters never tie up the
                    # event loop's executor.
                    await asyncio.sleep(RETRY_SECONDS)
            yield
        finally:
            os.close(fd)  # releases the lock


class AdvisoryLocks:
    """PostgreSQL's transaction advisory lock on the key's number, in a transaction on one of
    the store's connections held for the block: it ends with the transaction, however the
    block ends (a connection returned to the pool is rolled back)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with self._engine.begin() as connection:
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _number(key)}
            )
            yield
