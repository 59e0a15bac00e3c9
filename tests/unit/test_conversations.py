"""The conversation object, its store and memory on SQLite, and how turns are written down."""

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from sqlalchemy import text

from conversations import Conversation, Memory
from conversations.ids import check_conversation_id, session_identifier, thread_identifier
from conversations.locks import FileLocks
from conversations.serializer import RememberingSerializer
from conversations.transcript import (
    PYTHON_TOOL,
    mark_answer,
    page_messages,
    stopped_result,
    tool_content,
)
from errors import BadRequest, NotFound
from settings import Settings
from tests.support.aio import run_async
from wiring import build_conversations


def test_session_and_thread_ids_depend_on_user_and_conversation():
    ids = {session_identifier(u, c) for u in ("alice", "bob") for c in ("c1", "c2")}
    assert len(ids) == 4
    assert session_identifier("alice", "c1") == session_identifier("alice", "c1")
    assert all(4 <= len(i) <= 128 for i in ids)
    threads = {thread_identifier(u, c) for u in ("alice", "bob") for c in ("c1", "c2")}
    assert len(threads) == 4


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "é", "a/b", None, 7])
def test_malformed_conversation_ids_are_refused(bad):
    with pytest.raises(BadRequest):
        check_conversation_id(bad)


def test_a_conversation_travels_in_the_run_config():
    conversation = Conversation.of("alice", "c1")
    config = {"configurable": {"other": 1, **conversation.configurable()}}

    assert Conversation.from_config(config) == conversation
    assert config["configurable"]["thread_id"] == conversation.thread_id
    with pytest.raises(LookupError, match="claimed conversation"):
        Conversation.from_config({"configurable": {"conversation_id": "c1"}})


def _step_turn(question: str, code: str, step: dict, answer: str) -> list:
    call = {"name": PYTHON_TOOL, "args": {"python_code": code}, "id": "call-1"}
    return [
        HumanMessage(question),
        AIMessage("", tool_calls=[call]),
        ToolMessage(tool_content(step, 8000), tool_call_id="call-1", artifact=step),
        mark_answer(AIMessage(answer), "python"),
    ]


def test_claims_turns_titles_and_forgetting_on_sqlite(tmp_path):
    step = {"status": "Success", "result": 42, "stdout": "", "stderr": "", "images": ["iVBO"]}

    async def scenario() -> dict:
        conversations = build_conversations(Settings(_env_file=None, data_dir=tmp_path))
        await conversations.start()
        try:
            mine = await conversations.claim("alice", "c1")
            await conversations.save(mine, _step_turn("What is 6 * 7?", "6 * 7", step, "42"))
            (first,) = await conversations.list_for("alice")
            await conversations.save(mine, [HumanMessage("thanks"), AIMessage("welcome")])
            seen = {
                "first": first,
                "history": await conversations.history(mine),
                "listed": await conversations.list_for("alice"),
                "loaded": await conversations.load(mine),
                "peek": await conversations.claim("bob", "unused", record=False),
            }
            for user, record in (("bob", True), ("bob", False)):
                with pytest.raises(NotFound):
                    await conversations.claim(user, "c1", record=record)
            async with conversations.store.engine.connect() as connection:
                seen["journal"] = await connection.scalar(text("PRAGMA journal_mode"))
            await conversations.forget(mine)
            seen["freed"] = await conversations.claim("bob", "c1")
            return seen
        finally:
            await conversations.close()

    seen = run_async(scenario())
    shown = seen["history"]
    assert shown["title"] == "What is 6 * 7?"
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"] * 2
    assert shown["messages"][1] == {
        "role": "assistant",
        "content": "42",
        "route": "python",
        "steps": [{"index": 0, "code": "6 * 7", **step}],
    }
    assert [c["id"] for c in seen["listed"]] == ["c1"]
    (listed,) = seen["listed"]
    assert listed["created_at"] == seen["first"]["created_at"] == seen["first"]["updated_at"]
    assert listed["updated_at"] > listed["created_at"]
    assert len(seen["loaded"]) == 6 and seen["journal"] == "wal"
    assert seen["peek"].user == "bob" and seen["freed"].user == "bob"


def test_a_schema_2_store_gets_creation_times_from_its_last_turns(tmp_path):
    """Schema 2 had no creation time: each conversation is given its last turn's time, once."""
    with sqlite3.connect(tmp_path / "conversations.db") as db:
        db.execute(
            "CREATE TABLE conversations (user_id VARCHAR(200) NOT NULL, id VARCHAR(64) NOT NULL, "
            "title VARCHAR(60) NOT NULL, updated_at DATETIME NOT NULL, PRIMARY KEY (user_id, id))"
        )
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (2)")
        db.execute("INSERT INTO conversations VALUES ('alice', 'c1', 'hi', '2026-01-02 03:04:05')")

    async def listed() -> list[dict]:
        conversations = build_conversations(Settings(_env_file=None, data_dir=tmp_path))
        await conversations.start()
        try:
            return await conversations.list_for("alice")
        finally:
            await conversations.close()

    first, again = run_async(listed()), run_async(listed())
    assert (
        first
        == again
        == [
            {
                "id": "c1",
                "title": "hi",
                "updated_at": "2026-01-02T03:04:05+00:00",
                "created_at": "2026-01-02T03:04:05+00:00",
            }
        ]
    )
    with sqlite3.connect(tmp_path / "conversations.db") as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(3,)]


def test_the_model_is_shown_the_latest_whole_turns_that_fit():
    turns = [
        [HumanMessage(f"question {turn}"), AIMessage(f"answer {turn}: " + "words " * 20)]
        for turn in range(200)
    ]
    memory = Memory(open_saver=None, max_tokens=1000, save_locks=None)  # type: ignore[arg-type]
    shown = memory.bounded([message for turn in turns for message in turn])

    assert count_tokens_approximately(shown) <= 1000
    assert shown[-1].text.startswith("answer 199") and isinstance(shown[0], HumanMessage)
    assert 20 < len(shown) < 100


def test_a_long_output_reaches_the_model_shortened_with_a_note():
    step = {"result": "'" + "x" * 1_000_000 + "'", "stdout": "a" * 3000, "stderr": ""}
    content = json.loads(tool_content(step, max_chars=8000))

    assert len(json.dumps(content)) < 8000 + 500
    assert content["stdout"] == "a" * 3000  # short enough: kept whole
    assert content["result"].startswith("'xxx") and content["result"].endswith("xxx'")
    assert "995,0" in content["result"] and "TOOL_RESULT_MAX_CHARS" in content["result"]


def test_images_of_a_step_kept_before_outputs_are_counted_for_the_model_not_sent():
    content = json.loads(tool_content({"result": "", "images": ["iVBO" * 1000]}, 8000))
    assert content["outputs"] == ["image 1 shown to the user"]
    assert "iVBO" not in json.dumps(content)


def test_the_page_reads_stopped_and_failed_turns_from_the_messages():
    call = {"name": PYTHON_TOOL, "args": {"python_code": "sleep()"}, "id": "call-9"}
    error = {"status_code": 502, "message": "the model did not answer"}
    messages = [
        HumanMessage("sleep"),
        AIMessage("Sleeping.", tool_calls=[call]),
        stopped_result("call-9"),
        mark_answer(AIMessage(" (stopped)"), "python"),
        HumanMessage("again"),
        mark_answer(AIMessage(""), None, error),
    ]
    stopped, failed = page_messages(messages)[1], page_messages(messages)[3]

    assert stopped["content"] == "Sleeping. (stopped)"
    assert stopped["steps"] == [{"index": 0, "code": "sleep()", "status": "stopped"}]
    assert failed == {
        "role": "assistant",
        "content": "",
        "route": "chat",
        "steps": [],
        "error": error,
    }


HOLD_IN_ANOTHER_PROCESS = """
import asyncio, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from conversations.locks import FileLocks
from conversations.serializer import RememberingSerializer

async def hold():
    async with FileLocks(Path(sys.argv[2])).hold("alice/c1"):
        print("held", flush=True)
        sys.stdin.readline()  # until the test says so

asyncio.run(hold())
"""


def test_a_save_lock_held_by_another_process_is_waited_for(tmp_path):
    """Two workers saving one conversation: the second save starts only once the first
    process has let go (or died; the kernel drops its lock)."""
    root = str(Path(__file__).resolve().parents[2])
    command = [sys.executable, "-c", HOLD_IN_ANOTHER_PROCESS, root, str(tmp_path)]
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
    with subprocess.Popen(command, **pipes) as other:  # closes its pipes when done
        _save_after(other, tmp_path)


def _save_after(other: subprocess.Popen, tmp_path: Path) -> None:
    assert other.stdout.readline().strip() == "held"

    async def save_after_the_other() -> bool:
        waiting = asyncio.create_task(_hold(FileLocks(tmp_path), "alice/c1"))
        await asyncio.sleep(0.3)
        still_waiting = not waiting.done()
        other.stdin.write("go\n")
        other.stdin.flush()
        await waiting
        return still_waiting

    try:
        assert run_async(save_after_the_other())
    finally:
        other.kill()
        other.wait()


def test_save_locks_of_other_conversations_do_not_wait(tmp_path):
    locks = FileLocks(tmp_path)

    async def both() -> None:
        async with locks.hold("alice/c1"):
            # A different key in this process: a lock of its own (the buckets differ here).
            await asyncio.wait_for(_hold(locks, "alice/c2"), 5)

    run_async(both())


async def _hold(locks, key: str) -> None:
    async with locks.hold(key):
        pass


def test_each_worker_reads_the_turns_the_other_saved(tmp_path):
    """Two workers on one store: each remembers the checkpoints it wrote and read, yet reads
    the other's saves."""
    settings = Settings(_env_file=None, data_dir=tmp_path)

    async def scenario() -> list[list[str]]:
        workers = [build_conversations(settings), build_conversations(settings)]
        for worker in workers:
            await worker.start()
        try:
            one, two = [await w.claim("alice", "c1") for w in workers]
            seen = []
            for turn in range(4):
                worker, conversation = (workers[0], one) if turn % 2 == 0 else (workers[1], two)
                loaded = await worker.load(conversation)
                seen.append([m.text for m in loaded])
                await worker.save(conversation, [HumanMessage(f"q{turn}"), AIMessage(f"a{turn}")])
            seen.append([m.text for m in await workers[0].load(one)])
            return seen
        finally:
            for worker in workers:
                await worker.close()

    seen = run_async(scenario())
    expected = [f"{kind}{turn}" for turn in range(4) for kind in "qa"]
    assert seen == [expected[: 2 * turn] for turn in range(5)]


def test_a_remembered_checkpoint_is_handed_out_as_a_copy():
    serializer = RememberingSerializer(JsonPlusSerializer())
    checkpoint = {"channel_values": {"messages": [HumanMessage("q"), AIMessage("a")]}}
    encoded = serializer.dumps_typed(checkpoint)
    checkpoint["channel_values"]["messages"].append(HumanMessage("changed after the save"))

    first = serializer.loads_typed(encoded)
    first["channel_values"]["messages"].clear()
    again = serializer.loads_typed(encoded)

    assert [m.text for m in again["channel_values"]["messages"]] == ["q", "a"]
    assert again == JsonPlusSerializer().loads_typed(encoded)
