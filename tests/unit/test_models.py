"""The offline model and the arithmetic it understands."""

import json
import socket

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from chains import RouteDecision
from llms import OfflineChatModel, build_chat_model, close_chat_model, model_error
from llms.arithmetic import to_python_expression
from settings import Settings
from tests.support.aio import run_async
from tools import PoolClient, PythonTool, RemoteSessionPool


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


@pytest.mark.parametrize(
    ("sentence", "expression"),
    [
        ("1" + " - " * 2000 + "1", None),  # deeper than Python's parser goes
        ("(" * 150 + "1 + 1" + ")" * 150, "1 + 1"),
        ("1" + "-" * 8000, None),
        ("what is 2.5e3 + .5 and 3.x", "2.5e3 + .5"),
    ],
)
def test_arithmetic_at_the_edges_is_read_or_declined_never_raised(sentence, expression):
    assert to_python_expression(sentence) == expression


def test_follow_ups_use_the_previous_result():
    assert to_python_expression("What's the square root of that?", "21175") == "math.sqrt(21175)"
    assert to_python_expression("and the result times 2", "7") == "7 * 2"


def _python_tool():
    pool = RemoteSessionPool("http://127.0.0.1:9/", lambda: "", local=True)
    return PythonTool(pool_client=PoolClient(pool, httpx.AsyncClient()))


def test_offline_model_calls_the_tool_and_reports_the_result():
    model = OfflineChatModel().bind_tools([_python_tool()])
    call = model.invoke([HumanMessage("What is 25 * 847?")])
    code = call.tool_calls[0]["args"]["python_code"]
    tool_result = ToolMessage(json.dumps({"result": 21175}), tool_call_id=call.tool_calls[0]["id"])
    answer = model.invoke([HumanMessage("What is 25 * 847?"), call, tool_result])

    assert "25 * 847" in code
    assert answer.content == "[offline model] 25 * 847 = 21175"


@pytest.mark.parametrize(
    ("result", "answer"),
    [
        # The local pool sends null for a non-finite float; a Jupyter-format pool sends its text.
        (None, "1e308 * 10 is beyond the range of floating-point numbers (infinity or NaN)"),
        ("inf", "1e308 * 10 = inf (beyond the range of floating-point numbers)"),
    ],
)
def test_offline_model_says_a_result_is_beyond_floating_point(result, answer):
    model = OfflineChatModel().bind_tools([_python_tool()])
    call = model.invoke([HumanMessage("What is 1e308 * 10")])
    tool_result = ToolMessage(json.dumps({"result": result}), tool_call_id=call.tool_calls[0]["id"])
    reply = model.invoke([HumanMessage("What is 1e308 * 10"), call, tool_result])

    assert reply.content == f"[offline model] {answer}"


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


@pytest.mark.parametrize("settings", [{}, {"llm_timeout_seconds": 0.001}], ids=["refused", "slow"])
def test_a_model_that_cannot_be_reached_is_told_from_one_that_is_slow(settings):
    """A refused connection says so (the SDK's aiohttp transport raises it as a timeout); a
    timeout stays a timeout."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        if settings:
            listening.listen()  # accepts, never answers
        model = build_chat_model(
            Settings(
                _env_file=None,
                openai_api_key="k",
                openai_base_url=f"http://127.0.0.1:{port}/v1",
                llm_max_retries=0,
                **settings,
            )
        )

        async def ask() -> str:
            try:
                await model.ainvoke("hello")
            except openai.APIError as error:
                return model_error(error, 0).message
            finally:
                await close_chat_model(model)
            return "answered"

        reason = run_async(ask())
    assert reason.endswith(
        "(timed out) after 0 retries" if settings else "(could not connect) after 0 retries"
    )
