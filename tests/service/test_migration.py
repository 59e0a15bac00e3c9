"""A data directory written by the service before its memory moved into the checkpointer
(schema 1, main 93ce64a) is opened by today's service: every conversation reads back as it
was, and the model is shown its earlier code and results."""

import json
import shutil
import sqlite3
from pathlib import Path

from tests.service.conftest import azure_env, pool_env, run_service
from tests.service.helpers import agent_requests, ask_chat

SCHEMA_V1_DATA = Path(__file__).with_name("schema_v1_data")


def _v1_messages(database: Path, conversation_id: str) -> list[dict]:
    """What the old service answered for GET /conversations/{id}, read from its own rows."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT role, content, route, steps FROM messages "
            "WHERE conversation_id = ? ORDER BY seq",
            (conversation_id,),
        ).fetchall()
    return [
        {"role": role, "content": content, "route": route, "steps": json.loads(steps)}
        for role, content, route, steps in rows
    ]


def test_conversations_written_by_schema_1_read_back_and_continue(
    scripted_llm, llm, session_pool, tmp_path
):
    shutil.copytree(SCHEMA_V1_DATA, tmp_path, dirs_exist_ok=True)
    database = tmp_path / "conversations.db"
    expected = {c: _v1_messages(database, c) for c in ("analysis-1", "plot-2")}
    env = {**azure_env(scripted_llm), **pool_env(session_pool)}

    with run_service(env, tmp_path) as service, service.http() as http:
        listed = http.get("/conversations").json()
        shown = {c: http.get(f"/conversations/{c}").json() for c in expected}
        alices = http.get("/conversations/alices-1")
        follow_up = ask_chat(service, "analysis-1", "What is 2 * 3?")
    with run_service(env, tmp_path) as service, service.http() as http:
        again = http.get("/conversations/analysis-1").json()["messages"]

    assert {c["id"]: c["title"] for c in listed} == {
        "analysis-1": "What is 25 * 847?",
        "plot-2": "plot squares",
    }
    for conversation, messages in expected.items():
        assert shown[conversation]["messages"] == messages
    assert shown["plot-2"]["messages"][1]["steps"][0]["images"][0].startswith("iVBORw0KGgo")
    assert shown["plot-2"]["messages"][5]["steps"][0]["status"] == "stopped"
    assert alices.status_code == 404  # still alice's, not the anonymous caller's

    assert follow_up["output"] == "The result is 6."
    told = agent_requests(llm)[0]["body"]["messages"]
    calls = [c for m in told if m.get("tool_calls") for c in m["tool_calls"]]
    assert "25 * 847" in json.loads(calls[0]["function"]["arguments"])["python_code"]
    results = [m for m in told if m["role"] == "tool"]
    assert json.loads(results[0]["content"])["result"] == 21175
    assert again[:6] == expected["analysis-1"] and len(again) == 8  # migrated once, not twice

    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        version = connection.execute("SELECT version FROM schema_version").fetchall()
    assert "messages" not in tables and version == [(3,)]
    # Schema 3: a conversation older than its creation time is given the time of its last turn.
    assert all(c["created_at"] == c["updated_at"] for c in listed)
