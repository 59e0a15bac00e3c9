"""Conversations on PostgreSQL (DATABASE_URL): the store and the memory, as on SQLite."""

import asyncio

import pytest
import sqlalchemy
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from conversations import build_engine, open_checkpointer
from conversations.databases import close_checkpointer
from conversations.transcript import PYTHON_TOOL, mark_answer
from errors import NotFound
from settings import Settings
from tests.support.aio import run_async
from tests.support.postgres import PASSWORD, with_password
from wiring import build_conversations


def _turn(question: str, code: str, result: int, answer: str) -> list:
    call = {"name": PYTHON_TOOL, "args": {"python_code": code}, "id": "call-1"}
    step = {"status": "Success", "result": result, "stdout": "", "stderr": "", "images": []}
    return [
        HumanMessage(question),
        AIMessage("", tool_calls=[call]),
        ToolMessage(f'{{"result": {result}}}', tool_call_id="call-1", artifact=step),
        mark_answer(AIMessage(answer), "python"),
    ]


def test_postgres_keeps_turns_lists_newest_first_and_forgets(postgres_url, tmp_path):
    settings = Settings(_env_file=None, database_url=with_password(postgres_url))

    async def scenario() -> dict:
        conversations = build_conversations(settings)
        await conversations.start()
        try:
            first = await conversations.claim("u", None)
            second = await conversations.claim("u", None)
            await conversations.save(first, _turn("What is 25 * 847?", "25 * 847", 21175, "21175"))
            await conversations.save(second, [HumanMessage("hello"), AIMessage("hi")])
            listed = [c["id"] for c in await conversations.list_for("u")]
            shown = await conversations.history(first)
            remembered = await conversations.load(first)
            with pytest.raises(NotFound):
                await conversations.claim("someone-else", first.id)
            await conversations.forget(first)
            with pytest.raises(NotFound):
                await conversations.history(first)
            reclaimed = await conversations.claim("someone-else", first.id)
            return {
                "listed": listed,
                "ids": [first.id, second.id],
                "shown": shown,
                "remembered": remembered,
                "after_forget": await conversations.memory.load(first.thread_id),
                "reclaimed": reclaimed.user,
            }
        finally:
            await conversations.close()

    seen = run_async(scenario())
    assert seen["listed"] == seen["ids"][::-1]
    answer = seen["shown"]["messages"][1]
    assert answer["route"] == "python" and answer["content"] == "21175"
    assert answer["steps"][0]["code"] == "25 * 847" and answer["steps"][0]["result"] == 21175
    assert [type(m).__name__ for m in seen["remembered"]] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert seen["after_forget"] == [] and seen["reclaimed"] == "someone-else"


def test_each_new_connection_signs_in_with_a_fresh_password(postgres_url, tmp_path):
    issued = []

    def token() -> str:
        issued.append(PASSWORD)
        return PASSWORD

    async def scenario() -> None:
        engine = build_engine(postgres_url, tmp_path, token)
        async with engine.connect() as first, engine.connect() as second:
            select_one = sqlalchemy.text("select 1")
            assert await first.scalar(select_one) == await second.scalar(select_one)
        await engine.dispose()
        saver = await open_checkpointer(postgres_url, tmp_path, token)
        await close_checkpointer(saver)

        wrong = build_engine(postgres_url, tmp_path, lambda: "an-expired-token")
        with pytest.raises(sqlalchemy.exc.OperationalError, match="password authentication"):
            await wrong.connect()
        await wrong.dispose()

    run_async(scenario())
    assert len(issued) >= 3  # two store connections, and the checkpointer's own


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_two_workers_saving_one_conversation_keep_every_turn(postgres_url, tmp_path, database):
    """Two workers are two processes, each with its own store, memory and per-process lock;
    only the lock across processes (an advisory lock, or a lock file) orders their saves."""
    where = {"database_url": with_password(postgres_url)} if database == "postgres" else {}
    settings = Settings(_env_file=None, data_dir=tmp_path, **where)

    async def scenario() -> list:
        workers = [build_conversations(settings) for _ in range(2)]
        for worker in workers:
            await worker.start()
        try:
            conversation = await workers[0].claim("u", None)
            turns = [
                worker.save(conversation, [HumanMessage(f"q{n}-{w}"), AIMessage(f"a{n}-{w}")])
                for n in range(10)
                for w, worker in enumerate(workers)
            ]
            await asyncio.gather(*turns)
            return await workers[1].memory.load(conversation.thread_id)
        finally:
            for worker in workers:
                await worker.close()

    messages = run_async(scenario())
    assert len(messages) == 40
    assert {m.text for m in messages} == {
        f"{kind}{n}-{w}" for kind in "qa" for n in range(10) for w in range(2)
    }
