"""Fast, in-process checks of the parts: arithmetic, the offline model, chunks, ids, the store."""

import json

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from sqlalchemy import text

from chains import ChatChunk, RouteDecision
from conversations import ConversationStore, build_engine
from conversations.ids import check_conversation_id, session_identifier
from errors import BadRequest, NotSupported
from llms import OfflineChatModel
from llms.arithmetic import to_python_expression
from tests.service.helpers import run_async
from tools import PoolClient, RemoteSessionPool, SessionPythonTool


@pytest.mark.parametrize(
    ("sentence", "expression"),
    [
        ("What is 25 * 847?", "25 * 847"),
        ("what is 2 to the power of 10", "2 ** 10"),
        ("What is 7 squared?", "7 ** 2"),
        ("15% of 80", "15 / 100 * 80"),
        ("what is 1,000 x 3", "1000 * 3"),
        ("what is 10 divided by 4", "10 / 4"),
        ("cube root of 27", "27 ** (1 / 3)"),
        ("hello there", None),
        ("what is 5?", None),
    ],
)
def test_arithmetic_in_sentences(sentence, expression):
    assert to_python_expression(sentence) == expression


def test_follow_ups_use_the_previous_result():
    assert to_python_expression("What's the square root of that?", "21175") == "math.sqrt(21175)"
    assert to_python_expression("and the result times 2", "7") == "7 * 2"


def _python_tool():
    return SessionPythonTool(pool=RemoteSessionPool("http://127.0.0.1:9/", lambda: "", True))


def test_offline_model_calls_the_tool_and_reports_the_result():
    model = OfflineChatModel().bind_tools([_python_tool()])
    call = model.invoke([HumanMessage("What is 25 * 847?")])
    code = call.tool_calls[0]["args"]["python_code"]
    tool_result = ToolMessage(json.dumps({"result": 21175}), tool_call_id=call.tool_calls[0]["id"])
    answer = model.invoke([HumanMessage("What is 25 * 847?"), call, tool_result])

    assert "25 * 847" in code
    assert answer.content == "[offline model] 25 * 847 = 21175"


def test_offline_model_follows_up_from_an_earlier_answer():
    model = OfflineChatModel().bind_tools([_python_tool()])
    history = [HumanMessage("What is 25 * 847?"), AIMessage("[offline model] 25 * 847 = 21175")]
    call = model.invoke([*history, HumanMessage("What's the square root of that?")])

    assert "math.sqrt(21175)" in call.tool_calls[0]["args"]["python_code"]


def test_offline_model_routes_with_structured_output():
    router = OfflineChatModel().with_structured_output(RouteDecision, method="function_calling")
    assert router.invoke([HumanMessage("What is 2 * 3?")]).route == "python"
    assert router.invoke([HumanMessage("Write a poem")]).route == "chat"


def test_offline_model_streams_a_labelled_answer():
    tokens = [chunk.content for chunk in OfflineChatModel().stream([HumanMessage("hello")])]
    assert len(tokens) > 5 and "".join(tokens).startswith("[offline model]")


def test_chunks_add_up_to_the_output():
    chunks = [
        ChatChunk(route="python", conversation_id="c", output="", steps=[]),
        ChatChunk(steps=[{"index": 0, "code": "1+1", "status": "running"}]),
        ChatChunk(steps=[{"index": 0, "status": "Success", "result": 2}]),
        ChatChunk(output="It is "),
        ChatChunk(output="2."),
    ]
    total = sum(chunks[1:], chunks[0])

    assert total["output"] == "It is 2."
    assert total["steps"] == [{"index": 0, "code": "1+1", "status": "Success", "result": 2}]


def test_session_identifiers_depend_on_user_and_conversation():
    ids = {session_identifier(u, c) for u in ("alice", "bob") for c in ("c1", "c2")}
    assert len(ids) == 4
    assert session_identifier("alice", "c1") == session_identifier("alice", "c1")
    assert all(4 <= len(i) <= 128 for i in ids)


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "é", "a/b"])
def test_malformed_conversation_ids_are_refused(bad):
    with pytest.raises(BadRequest):
        check_conversation_id(bad)


def test_sqlite_store_uses_wal_and_keeps_turns(tmp_path):
    store = ConversationStore(build_engine(None, tmp_path))
    store.create_tables()
    store.append_turn("u", "c", "What is 1 + 1?", {"output": "2", "route": "python", "steps": []})

    with store._engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert [m["role"] for m in store.get("u", "c")["messages"]] == ["user", "assistant"]
    assert store.get("someone-else", "c") is None
    store.close()


def test_interrupt_on_azure_is_not_supported():
    pool = RemoteSessionPool("https://x.eastus.dynamicsessions.io/", lambda: "t", local=False)

    async def interrupt():
        async with httpx.AsyncClient() as http:
            await PoolClient(pool, http).interrupt("conv-1")

    with pytest.raises(NotSupported) as error:
        run_async(interrupt())
    assert error.value.status_code == 501
