"""The store's schema version, and the step from each earlier version to the current one.

Version 1 (until main 93ce64a) kept each turn in a `messages` table: the user's text, the
answer's text, its route and its steps. Version 2 keeps what was said in the model's memory
(the checkpointer) and only owners and titles in the store. The step moves every turn into
the memory as the messages it stands for (a tool call and a tool result per step), then
drops the table. Each moved message has an id made from its row, so a step that is run
again (a crash half-way, two workers starting at once) replaces instead of repeating.

Version 3 adds each conversation's creation time; a conversation of an earlier version is
given the time of its last turn, the earliest the store knows of it.

Not Alembic: the one step writes through the checkpointer's async API, which a synchronous
migration script cannot await; one version row and one function per step say as much.
"""

import itertools
import logging

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from conversations.ids import thread_identifier
from conversations.memory import Memory
from conversations.store import conversations, metadata, schema_version
from conversations.transcript import PYTHON_TOOL, mark_answer, stopped_result, tool_content

CURRENT_VERSION = 3
log = logging.getLogger(__name__)
_legacy = MetaData()
v1_messages = Table(
    "messages",
    _legacy,
    Column("seq", Integer, primary_key=True),
    Column("user_id", String(200)),
    Column("conversation_id", String(64)),
    Column("role", String(16)),
    Column("content", Text),
    Column("route", String(16)),
    Column("steps", JSON),
)


async def migrate(engine: AsyncEngine, memory: Memory, tool_result_max_chars: int) -> None:
    """Bring the store to CURRENT_VERSION; a new database starts there."""
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        version = await _version(connection)
    if version == 1:
        await _move_v1_turns_into_memory(engine, memory, tool_result_max_chars)
        async with engine.begin() as connection:
            await connection.run_sync(v1_messages.drop, checkfirst=True)
            await _set_version(connection, 2)
        log.info("conversations migrated from schema 1 to 2 (turns moved into the memory)")
        version = 2
    if version == 2:
        async with engine.begin() as connection:
            await _add_created_at(connection)
            await _set_version(connection, 3)
        log.info("conversations migrated from schema 2 to 3 (creation times)")


async def _version(connection: AsyncConnection) -> int:
    version = await connection.scalar(select(schema_version.c.version))
    if version is None:
        has_v1 = await connection.run_sync(lambda sync: inspect(sync).has_table("messages"))
        version = 1 if has_v1 else CURRENT_VERSION
        await connection.execute(schema_version.insert().values(version=version))
    return version


async def _add_created_at(connection: AsyncConnection) -> None:
    def has_column(sync) -> bool:
        return "created_at" in {c["name"] for c in inspect(sync).get_columns("conversations")}

    if not await connection.run_sync(has_column):
        kind = DateTime(timezone=True).compile(dialect=connection.dialect)
        await connection.execute(text(f"ALTER TABLE conversations ADD COLUMN created_at {kind}"))
    await connection.execute(
        update(conversations)
        .where(conversations.c.created_at.is_(None))
        .values(created_at=conversations.c.updated_at)
    )


async def _set_version(connection: AsyncConnection, version: int) -> None:
    await connection.execute(schema_version.update().values(version=version))


async def _move_v1_turns_into_memory(
    engine: AsyncEngine, memory: Memory, tool_result_max_chars: int
) -> None:
    query = select(v1_messages).order_by(
        v1_messages.c.user_id, v1_messages.c.conversation_id, v1_messages.c.seq
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    for (user, conversation_id), turn_rows in itertools.groupby(
        rows, key=lambda row: (row["user_id"], row["conversation_id"])
    ):
        messages = [m for row in turn_rows for m in _as_messages(row, tool_result_max_chars)]
        await memory.append(thread_identifier(user, conversation_id), messages)


def _as_messages(row, tool_result_max_chars: int) -> list[BaseMessage]:
    """A version 1 row as the messages a turn writes today."""
    key = f"v1-{row['seq']}"
    if row["role"] == "user":
        return [HumanMessage(row["content"], id=key)]
    messages: list[BaseMessage] = []
    for step in row["steps"] or []:
        call_id = f"{key}-call-{step['index']}"
        call = {"name": PYTHON_TOOL, "args": {"python_code": step.get("code", "")}, "id": call_id}
        messages.append(AIMessage("", tool_calls=[call], id=f"{call_id}-ask"))
        messages.append(_v1_result(step, call_id, tool_result_max_chars))
    answer = mark_answer(AIMessage(row["content"], id=key), row["route"])
    return [*messages, answer]


def _v1_result(step: dict, call_id: str, tool_result_max_chars: int) -> ToolMessage:
    if step.get("status") in ("stopped", "running"):
        return stopped_result(call_id).model_copy(update={"id": f"{call_id}-result"})
    artifact = {key: value for key, value in step.items() if key not in ("index", "code")}
    return ToolMessage(
        tool_content(artifact, tool_result_max_chars),
        tool_call_id=call_id,
        artifact=artifact,
        id=f"{call_id}-result",
    )
