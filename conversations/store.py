"""The store's tables: who owns each conversation id, each conversation's title and time, and
the index of its kept files (`conversations.files`).

What was said lives in the model's memory (`conversations.memory`), not here: these rows
index it for the conversation list and guard who may use an id.
"""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

TITLE_CHARS = 60
metadata = MetaData()
conversations = Table(
    "conversations",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("title", String(TITLE_CHARS), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    # Schema 3. The migration fills the rows it finds, once; a replica still running schema 2
    # (a rolling upgrade on a shared PostgreSQL) can still write one without it afterwards.
    Column("created_at", DateTime(timezone=True)),
)
# Who first used each conversation id: ids are global, so another user's id is a 404 rather
# than a second, unrelated conversation under the same name.
owners = Table(
    "conversation_owners",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(200), nullable=False),
)
# A conversation's files as last seen in its code session: each one kept (its bytes in the
# file storage) unless it did not fit in the quota. `modified` is the session's time of the
# version seen, which tells the same session (its files unchanged) from a new one.
kept_files = Table(
    "conversation_files",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("conversation_id", String(64), primary_key=True),
    Column("name", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("modified", String(64)),
    Column("kept", Boolean, nullable=False),
)
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))


class ConversationStore:
    """Owners, titles and times of each user's conversations."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def close(self) -> None:
        await self.engine.dispose()

    async def owner(self, conversation_id: str) -> str | None:
        """The user the conversation id belongs to; None while nobody has used it."""
        query = select(owners.c.user_id).where(owners.c.id == conversation_id)
        async with self.engine.connect() as connection:
            return await connection.scalar(query)

    async def claim(self, user_id: str, conversation_id: str) -> bool:
        """Make an unused id the user's; True when the id is (now) theirs."""
        owner = await self.owner(conversation_id)
        if owner is None:
            try:
                async with self.engine.begin() as connection:
                    await connection.execute(
                        insert(owners).values(id=conversation_id, user_id=user_id)
                    )
                return True
            except IntegrityError:  # claimed by a concurrent request in the meantime
                owner = await self.owner(conversation_id)
        return owner == user_id

    async def touch(self, user_id: str, conversation_id: str, first_message: str) -> None:
        """Mark the conversation as just used; its first message becomes its title."""
        now = datetime.now(UTC)
        async with self.engine.begin() as connection:
            touched = await connection.execute(
                update(conversations)
                .where(_row_of(user_id, conversation_id))
                .values(updated_at=now)
            )
            if touched.rowcount == 0:
                title = " ".join(first_message.split())[:TITLE_CHARS]
                await connection.execute(
                    insert(conversations).values(
                        user_id=user_id,
                        id=conversation_id,
                        title=title,
                        updated_at=now,
                        created_at=now,
                    )
                )

    async def rename(self, user_id: str, conversation_id: str, title: str) -> bool:
        """Set the conversation's title; False when it has no row (no turn yet)."""
        async with self.engine.begin() as connection:
            renamed = await connection.execute(
                update(conversations).where(_row_of(user_id, conversation_id)).values(title=title)
            )
        return renamed.rowcount > 0

    async def list_of(self, user_id: str) -> list[dict]:
        """The user's conversations, newest first: id, title, updated_at and created_at (ISO
        8601)."""
        columns = conversations.c
        query = (
            select(columns.id, columns.title, columns.updated_at, columns.created_at)
            .where(columns.user_id == user_id)
            .order_by(columns.updated_at.desc())
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_with_iso_time(dict(row)) for row in rows]

    async def title(self, user_id: str, conversation_id: str) -> str | None:
        """The conversation's title; None when it has no turn yet."""
        query = select(conversations.c.title).where(_row_of(user_id, conversation_id))
        async with self.engine.connect() as connection:
            return await connection.scalar(query)

    async def delete(self, user_id: str, conversation_id: str) -> None:
        """Forget the conversation's row and free its id."""
        async with self.engine.begin() as connection:
            await connection.execute(delete(conversations).where(_row_of(user_id, conversation_id)))
            await connection.execute(
                delete(owners).where(owners.c.user_id == user_id, owners.c.id == conversation_id)
            )


def _row_of(user_id: str, conversation_id: str) -> ColumnElement[bool]:
    """The condition that picks one user's conversation row."""
    return and_(conversations.c.user_id == user_id, conversations.c.id == conversation_id)


def _with_iso_time(row: dict) -> dict:
    return {**row, **{key: _iso(row[key]) for key in ("updated_at", "created_at")}}


def _iso(time: datetime | None) -> str | None:
    if time is None:
        return None  # a created_at left empty (see the column): the page falls back on updated_at
    if time.tzinfo is None:
        # SQLite returns naive datetimes; they were written in UTC.
        time = time.replace(tzinfo=UTC)
    return time.isoformat()
