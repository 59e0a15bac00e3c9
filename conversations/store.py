"""The SQL store of conversations (SQLite in DATA_DIR, or DATABASE_URL): owners and messages."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

TITLE_CHARS = 60
metadata = MetaData()
conversations = Table(
    "conversations",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("title", String(TITLE_CHARS), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
)
messages = Table(
    "messages",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(200), nullable=False),
    Column("conversation_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("route", String(16)),
    Column("steps", JSON, nullable=False),
    ForeignKeyConstraint(
        ["user_id", "conversation_id"],
        ["conversations.user_id", "conversations.id"],
        ondelete="CASCADE",
    ),
)


# Who first used each conversation id: ids are global, so another user's id is a 404 rather
# than a second, unrelated conversation under the same name.
owners = Table(
    "conversation_owners",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(200), nullable=False),
)


def build_engine(
    database_url: str | None, data_dir: Path, password_provider: Callable[[], str] | None = None
) -> Engine:
    """SQLAlchemy engine for DATABASE_URL, or SQLite (WAL mode) in DATA_DIR.

    `password_provider` gives the password of each new connection: Azure Database for
    PostgreSQL takes a fresh Entra ID access token there, and tokens expire within the hour.
    """
    if database_url:
        engine = create_engine(database_url, pool_pre_ping=True)
        if password_provider:
            event.listen(engine, "do_connect", _with_password(password_provider))
        return engine
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{data_dir / 'conversations.db'}",
        connect_args={"check_same_thread": False, "timeout": 30},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _with_password(password_provider: Callable[[], str]):
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


class ConversationStore:
    """Each user's conversations and their messages; blocking calls, run them in a thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_tables(self) -> None:
        metadata.create_all(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def owner(self, conversation_id: str) -> str | None:
        """The user the conversation id belongs to; None while nobody has used it."""
        query = select(owners.c.user_id).where(owners.c.id == conversation_id)
        with self._engine.connect() as connection:
            return connection.execute(query).scalar()

    def claim(self, user_id: str, conversation_id: str) -> bool:
        """Make an unused id the user's; True when the id is (now) theirs."""
        owner = self.owner(conversation_id)
        if owner is None:
            try:
                with self._engine.begin() as connection:
                    connection.execute(insert(owners).values(id=conversation_id, user_id=user_id))
                return True
            except IntegrityError:  # claimed by a concurrent request in the meantime
                owner = self.owner(conversation_id)
        return owner == user_id

    def history(self, user_id: str, conversation_id: str, limit: int) -> list[dict]:
        """The last `limit` messages, oldest first."""
        query = (
            select(messages.c.role, messages.c.content, messages.c.route, messages.c.steps)
            .where(messages.c.user_id == user_id, messages.c.conversation_id == conversation_id)
            .order_by(messages.c.seq.desc())
            .limit(limit)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [dict(row) for row in reversed(rows)]

    def append_turn(self, user_id: str, conversation_id: str, question: str, answer: dict) -> None:
        """Store the user's message and the answer (output, route, steps) as one transaction."""
        now = datetime.now(UTC)
        key = {"user_id": user_id, "conversation_id": conversation_id}
        with self._engine.begin() as connection:
            touched = connection.execute(
                update(conversations)
                .where(conversations.c.user_id == user_id, conversations.c.id == conversation_id)
                .values(updated_at=now)
            )
            if touched.rowcount == 0:
                title = " ".join(question.split())[:TITLE_CHARS]
                connection.execute(
                    insert(conversations).values(
                        user_id=user_id, id=conversation_id, title=title, updated_at=now
                    )
                )
            connection.execute(
                insert(messages),
                [
                    {**key, "role": "user", "content": question, "route": None, "steps": []},
                    {
                        **key,
                        "role": "assistant",
                        "content": answer["output"],
                        "route": answer["route"],
                        "steps": answer["steps"],
                    },
                ],
            )

    def list(self, user_id: str) -> list[dict]:
        query = (
            select(conversations.c.id, conversations.c.title, conversations.c.updated_at)
            .where(conversations.c.user_id == user_id)
            .order_by(conversations.c.updated_at.desc())
        )
        with self._engine.connect() as connection:
            return [_with_iso_time(dict(row)) for row in connection.execute(query).mappings()]

    def get(self, user_id: str, conversation_id: str) -> dict | None:
        query = select(conversations.c.id, conversations.c.title).where(
            conversations.c.user_id == user_id, conversations.c.id == conversation_id
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        history = self.history(user_id, conversation_id, limit=1_000_000)
        return {**row, "messages": history}

    def delete(self, user_id: str, conversation_id: str) -> bool:
        with self._engine.begin() as connection:
            connection.execute(
                delete(messages).where(
                    messages.c.user_id == user_id, messages.c.conversation_id == conversation_id
                )
            )
            deleted = connection.execute(
                delete(conversations).where(
                    conversations.c.user_id == user_id, conversations.c.id == conversation_id
                )
            )
            connection.execute(
                delete(owners).where(owners.c.user_id == user_id, owners.c.id == conversation_id)
            )
        return deleted.rowcount > 0


def _with_iso_time(row: dict) -> dict:
    updated = row["updated_at"]
    if updated.tzinfo is None:
        # SQLite returns naive datetimes; they were written in UTC.
        updated = updated.replace(tzinfo=UTC)
    return {**row, "updated_at": updated.isoformat()}
