"""Each error a client can meet: a clear status and message, and never a stack trace."""

import pytest

from tests.conftest import start_session_pool
from tests.service.conftest import azure_env, pool_env, run_service
from tests.service.helpers import config, new_id
from tests.support.scripted_llm import Failure, Text, ToolCall
from tests.support.servers import free_port


def _post_chat(service, body: dict):
    with service.http() as http:
        return http.post("/chat/invoke", json=body)


def _assert_clear(response, status: int, words: str) -> None:
    assert response.status_code == status
    assert words in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"input": {"message": ""}}, "at least 1 character"),
        ({"input": {"message": "   "}}, "at least 1 character"),
        ({"input": {"message": "x" * 9000}}, "at most 8000 characters"),
        ({"input": {"text": "hello"}}, "message"),
        ({"input": "hello"}, "input"),
    ],
)
def test_bad_input_is_422_with_a_message(azure_service, llm, body, words):
    _assert_clear(_post_chat(azure_service, body), 422, words)


@pytest.mark.parametrize("bad_id", ["has space", "x" * 65, "semi;colon", "../etc"])
def test_malformed_conversation_id_is_422(azure_service, llm, bad_id):
    body = {"input": {"message": "hi"}, "config": config(bad_id)}
    _assert_clear(_post_chat(azure_service, body), 422, "malformed conversation_id")
    with azure_service.http() as http:
        response = http.get("/chat", params={"message": "hi", "conversation_id": bad_id})
    _assert_clear(response, 422, "malformed conversation_id")


def test_malformed_id_in_a_path_is_422(azure_service, llm):
    with azure_service.http() as http:
        _assert_clear(http.get("/conversations/bad%20id/files"), 422, "malformed")


def test_get_chat_without_a_message_is_422(azure_service, llm):
    with azure_service.http() as http:
        assert http.get("/chat").status_code == 422
        _assert_clear(http.get("/chat", params={"message": ""}), 422, "invalid message")


def test_agent_input_of_the_wrong_shape_is_422(azure_service, llm):
    with azure_service.http() as http:
        response = http.post("/agent/invoke", json={"input": {"messages": [{"oops": 1}]}})
    _assert_clear(response, 422, "messages")


def test_model_errors_are_retried_then_succeed(azure_service, llm):
    llm.script(Failure(500), ToolCall("RouteDecision", {"route": "chat"}), Failure(503), Text("ok"))
    response = _post_chat(azure_service, {"input": {"message": "hi"}, "config": config(new_id())})

    assert response.status_code == 200
    assert response.json()["output"]["output"] == "ok"


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (Failure(429, "slow down"), "rate limited, HTTP 429"),
        (Failure(500), "HTTP 500"),
        (Text("too late", delay=2.5), "timed out"),
    ],
)
def test_model_that_keeps_failing_is_reported_clearly(azure_service, llm, failure, words):
    llm.script(failure, failure)
    response = _post_chat(azure_service, {"input": {"message": "hi"}, "config": config(new_id())})

    _assert_clear(response, 502, words)
    assert "after 1 retry" in response.text
    assert len(llm.requests) == 2  # the first try and one retry


def test_model_error_in_a_stream_is_reported_and_the_stream_ends_cleanly(azure_service, llm):
    llm.script(Failure(429), Failure(429))
    # A cut connection would raise httpx.RemoteProtocolError here.
    with (
        azure_service.http() as http,
        http.stream("POST", "/chat/stream", json={"input": {"message": "hi"}}) as response,
    ):
        text = "\n".join(response.iter_lines())

    assert "rate limited, HTTP 429" in text
    assert text.rstrip().endswith('"message": "Internal Server Error"}')  # the error event
    assert "event: error" in text and "Traceback" not in text


def test_unknown_conversation_is_404(azure_service, llm):
    with azure_service.http() as http:
        _assert_clear(http.get(f"/conversations/{new_id()}"), 404, "no conversation")


@pytest.fixture(scope="module")
def service_without_pool(scripted_llm, tmp_path_factory):
    """The service pointed at a pool endpoint where nothing listens."""
    env = {
        **azure_env(scripted_llm),
        "POOL_MANAGEMENT_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "SESSION_POOL_API_KEY": "unused",
    }
    with run_service(env, tmp_path_factory.mktemp("no-pool")) as service:
        yield service


def test_pool_down_is_503_with_a_message(service_without_pool, llm):
    response = _post_chat(
        service_without_pool, {"input": {"message": "What is 2 * 2?"}, "config": config(new_id())}
    )
    _assert_clear(response, 503, "session pool is not reachable")
    conversation = new_id()
    with service_without_pool.http() as http:
        upload = http.post(f"/conversations/{conversation}/files", files={"file": ("a", b"1")})
        _assert_clear(upload, 503, "not reachable")
        # The files the service keeps are still listed.
        assert http.get(f"/conversations/{conversation}/files").json() == {"files": []}
        ready = http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["session_pool"] == "unreachable"


def test_pool_down_still_allows_direct_answers(service_without_pool, llm):
    response = _post_chat(service_without_pool, {"input": {"message": "hello"}})
    assert response.status_code == 200 and response.json()["output"]["route"] == "chat"


@pytest.mark.parametrize("path", ["/chat/batch", "/agent/batch"])
def test_invalid_batch_input_is_422(azure_service, llm, path):
    body = {"inputs": [{"message": "", "messages": [{"role": "?", "content": "x"}]}]}
    with azure_service.http() as http:
        response = http.post(path, json=body)
    _assert_clear(response, 422, "msg")


@pytest.fixture(scope="module")
def service_with_a_full_pool(scripted_llm, tmp_path_factory):
    """The service in front of a real local pool that may hold one session only."""
    with start_session_pool(max_sessions=1) as pool:
        env = {**azure_env(scripted_llm), **pool_env(pool)}
        with run_service(env, tmp_path_factory.mktemp("full-pool")) as service:
            yield service


def test_a_full_pool_is_429_with_its_retry_after(service_with_a_full_pool, llm):
    """The pool's own 429 and Retry-After reach the client: come back later, nothing is down."""
    first = {"input": {"message": "What is 2 * 2?"}, "config": config(new_id())}
    assert _post_chat(service_with_a_full_pool, first).status_code == 200
    second = {"input": {"message": "What is 3 * 3?"}, "config": config(new_id())}
    response = _post_chat(service_with_a_full_pool, second)
    _assert_clear(response, 429, "session pool is full")
    assert int(response.headers["Retry-After"]) >= 1
