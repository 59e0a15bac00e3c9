"""Where conversations are kept: SQLite in DATA_DIR, or the database DATABASE_URL names.

Two clients share that one database: SQLAlchemy for the store's tables (owners, titles,
the schema version) and LangGraph's checkpointer for the model's memory. Each new
connection can sign in with a fresh password (`password_provider`): Azure Database for
PostgreSQL takes an Entra ID access token there, and tokens expire within the hour.
"""

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from conversations.locks import AdvisoryLocks, FileLocks, SaveLocks
from conversations.serializer import RememberingSerializer

SQLITE_FILE = "conversations.db"
LOCKS_FOLDER = "locks"
SQLITE_BUSY_SECONDS = 30
PasswordProvider = Callable[[], str]


def build_engine(
    database_url: str | None, data_dir: Path, password_provider: PasswordProvider | None = None
) -> AsyncEngine:
    """The store's engine: DATABASE_URL (e.g. postgresql+psycopg://...), or SQLite in WAL mode."""
    if database_url:
        engine = create_async_engine(database_url, pool_pre_ping=True)
        if password_provider:
            event.listen(engine.sync_engine, "do_connect", _with_password(password_provider))
        return engine
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{data_dir / SQLITE_FILE}",
        connect_args={"timeout": SQLITE_BUSY_SECONDS},
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


async def open_checkpointer(
    database_url: str | None, data_dir: Path, password_provider: PasswordProvider | None = None
) -> BaseCheckpointSaver:
    """The checkpointer on the same database, set up (its tables made or migrated). Call it
    inside the event loop that will use it, and `close_checkpointer` it on shutdown."""
    saver: AsyncPostgresSaver | PrunedSqliteSaver
    serde = RememberingSerializer(JsonPlusSerializer())
    if database_url:
        pool = await _postgres_pool(database_url, password_provider)
        saver = AsyncPostgresSaver(pool, serde=serde)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        connection = aiosqlite.connect(data_dir / SQLITE_FILE, timeout=SQLITE_BUSY_SECONDS)
        saver = PrunedSqliteSaver(await connection, serde=serde)
    await saver.setup()
    return saver


async def close_checkpointer(saver: BaseCheckpointSaver) -> None:
    connection = saver.conn  # type: ignore[attr-defined]
    await connection.close()


async def _postgres_pool(
    database_url: str, password_provider: PasswordProvider | None
) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    # libpq reads SQLAlchemy's URL once the driver name is gone.
    conninfo = make_url(database_url).set(drivername="postgresql")
    fixed = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}

    async def connection_kwargs() -> dict:
        if password_provider is None:
            return fixed
        return {**fixed, "password": await asyncio.to_thread(password_provider)}

    pool = AsyncConnectionPool(
        conninfo.render_as_string(hide_password=False),
        connection_class=AsyncConnection[DictRow],
        kwargs=connection_kwargs,
        open=False,
    )
    await pool.open(wait=True)
    return pool


class PrunedSqliteSaver(AsyncSqliteSaver):
    """The SQLite checkpointer, with the `prune` that the PostgreSQL one has: each save of a
    conversation's memory writes a whole checkpoint, so only the latest one is kept."""

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        if strategy != "keep_latest":
            raise ValueError(f"unknown prune strategy: {strategy!r}")
        # Checkpoint ids grow with time (uuid6), as the saver's own "latest" query relies on.
        older = (
            "thread_id = ? AND checkpoint_id < "
            "(SELECT max(checkpoint_id) FROM checkpoints AS latest "
            "WHERE latest.thread_id = {table}.thread_id "
            "AND latest.checkpoint_ns = {table}.checkpoint_ns)"
        )
        async with self.lock:
            for thread_id in thread_ids:
                for table in ("writes", "checkpoints"):
                    where = older.format(table=table)
                    await self.conn.execute(f"DELETE FROM {table} WHERE {where}", (thread_id,))
            await self.conn.commit()


def save_locks(database_url: str | None, data_dir: Path, engine: AsyncEngine) -> SaveLocks:
    """What orders saves of one conversation across workers: PostgreSQL's advisory locks, or
    lock files in DATA_DIR next to the SQLite database."""
    if database_url:
        return AdvisoryLocks(engine)
    return FileLocks(data_dir / LOCKS_FOLDER)


def _with_password(password_provider: PasswordProvider):
    def set_password(_dialect, _record, _cargs, cparams: dict) -> None:
        cparams["password"] = password_provider()

    return set_password


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one request writes; foreign keys make deletes cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
