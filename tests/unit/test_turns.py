"""A turn's chunks add up to the answer, and a turn that ends early leaves valid messages."""

from langchain_core.messages import AIMessage, ToolMessage

from chains import ChatChunk
from chains.turn import Turn
from conversations.transcript import PYTHON_TOOL, page_messages
from tests.support.aio import run_async


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


async def _replay(turn: Turn, items: list) -> list[ChatChunk]:
    async def stream():
        for item in items:
            yield item

    return [chunk async for chunk in turn.follow(stream())]


def _tool_call(call_id: str, code: str) -> AIMessage:
    call = {"name": PYTHON_TOOL, "args": {"python_code": code}, "id": call_id}
    return AIMessage("Let me run it.", tool_calls=[call])


def test_a_finished_turn_keeps_the_models_messages_with_the_route_on_the_answer():
    turn = Turn("What is 1 + 1?")
    turn.route = "python"
    result = ToolMessage('{"result": 2}', tool_call_id="c1", artifact={"status": "Success"})
    items = [ChatChunk(output="Let me run it."), _tool_call("c1", "1 + 1"), result]
    chunks = run_async(_replay(turn, [*items, ChatChunk(output="2"), AIMessage("2")]))

    kept = turn.messages()
    assert [type(m).__name__ for m in kept] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert kept[-1].text == "2" and kept[-1].response_metadata["route"] == "python"
    assert [c["steps"][0]["status"] for c in chunks if "steps" in c] == ["running", "Success"]


def test_a_stopped_turn_answers_its_open_call_and_keeps_what_was_said():
    turn = Turn("sleep")
    turn.route = "python"
    run_async(_replay(turn, [ChatChunk(output="Let me run it."), _tool_call("c1", "sleep()")]))
    assert turn.unfinished_steps() == ChatChunk(steps=[{"index": 0, "status": "stopped"}])
    turn.stopped = True

    kept = turn.messages()
    assert isinstance(kept[2], ToolMessage) and kept[2].tool_call_id == "c1"
    shown = page_messages(kept)[1]
    assert shown["content"] == "Let me run it. (stopped)"
    assert shown["steps"][0]["status"] == "stopped" and shown["route"] == "python"


def test_a_failed_turn_keeps_the_question_and_the_error():
    turn = Turn("hello")
    turn.error = {"status_code": 502, "message": "the model did not answer"}

    question, answer = turn.messages()
    assert question.text == "hello" and answer.response_metadata["error"] == turn.error
