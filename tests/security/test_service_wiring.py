"""The real service with its guards: two users, each sees only their own things.

A conversation id belongs to the user who first used it: for anyone else it is a 404 on
every route, and nothing of it (history, code session, files) is reachable.
"""

from collections.abc import Iterator

import httpx
import pytest

from tests.security.conftest import ALICE_KEY, BOB_KEY, serve_keyed_service

ALICE, BOB = {"X-API-Key": ALICE_KEY}, {"Authorization": f"Bearer {BOB_KEY}"}


@pytest.fixture(scope="module")
def url(session_pool, tmp_path_factory) -> Iterator[str]:
    with serve_keyed_service(session_pool, tmp_path_factory.mktemp("wiring-data")) as base:
        yield base


def ask(url: str, who: dict, message: str, conversation: str) -> str:
    body = {
        "input": {"message": message},
        "config": {"configurable": {"conversation_id": conversation}},
    }
    response = httpx.post(f"{url}/chat/invoke", json=body, headers=who, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["output"]["output"]


def test_every_route_needs_credentials(url: str) -> None:
    calls = [
        ("POST", "/chat/invoke", {"input": {"message": "hi"}}),
        ("POST", "/agent/stream", {"input": {"messages": []}}),
        ("GET", "/chat?message=hi", None),
        ("GET", "/conversations", None),
        ("GET", "/conversations/any-conversation/files", None),
        ("GET", "/conversations/any-conversation/images/0.png", None),
        ("GET", "/v1/models", None),
        ("POST", "/v1/chat/completions", {"model": "code-interpreter", "messages": []}),
        ("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        ("GET", "/chat/playground/", None),
    ]
    for method, path, body in calls:
        response = httpx.request(method, f"{url}{path}", json=body, timeout=30)
        assert response.status_code == 401, (method, path, response.status_code)


def test_two_users_keep_separate_conversations_and_sessions(url: str) -> None:
    assert "42" in ask(url, ALICE, "what is 6 * 7?", "alice-numbers-1")
    bobs_own = ask(url, BOB, "what is the square root of that?", "bob-numbers-1")
    alices_follow_up = ask(url, ALICE, "what is the square root of that?", "alice-numbers-1")
    assert "6.48" in alices_follow_up
    assert "6.48" not in bobs_own


def another_users_calls(conversation: str) -> list[tuple[str, str, dict]]:
    """Every route that names a conversation, as (method, path, request keywords)."""
    config = {"configurable": {"conversation_id": conversation}}
    chat = {"input": {"message": "what is 2 + 2?"}, "config": config}
    agent = {"input": {"messages": [{"role": "user", "content": "hi"}]}, "config": config}
    batch = {"inputs": [{"message": "hi"}], "config": config}
    files = f"/conversations/{conversation}/files"
    question = [{"role": "user", "content": "hi"}]
    openai = {"model": "code-agent", "messages": question, "metadata": config["configurable"]}
    calls = [("POST", f"/chat/{e}", {"json": chat}) for e in LANGSERVE_ENDPOINTS]
    calls += [("POST", f"/agent/{e}", {"json": agent}) for e in LANGSERVE_ENDPOINTS]
    return calls + [
        ("POST", "/chat/batch", {"json": batch}),
        ("GET", f"/chat?message=hi&conversation_id={conversation}", {}),
        ("GET", f"/conversations/{conversation}", {}),
        ("POST", f"/conversations/{conversation}/interrupt", {}),
        ("GET", files, {}),
        ("POST", files, {"files": {"file": ("bob.csv", b"x\n1\n")}}),
        ("GET", f"{files}/secret.csv", {}),
        ("GET", f"/conversations/{conversation}/images/0.png", {}),
        ("POST", "/v1/chat/completions", {"json": openai}),
        ("DELETE", f"/conversations/{conversation}", {}),
    ]


LANGSERVE_ENDPOINTS = ("invoke", "stream", "stream_log", "stream_events")


def test_another_users_conversation_is_not_found_on_every_route(url: str) -> None:
    conversation = "alice-only-1"
    assert "5" in ask(url, ALICE, "what is 2 + 3?", conversation)
    upload = httpx.post(
        f"{url}/conversations/{conversation}/files",
        files={"file": ("secret.csv", b"a,b\n1,2\n")},
        headers=ALICE,
    )
    assert upload.status_code == 200, upload.text

    for method, path, keywords in another_users_calls(conversation):
        response = httpx.request(method, f"{url}{path}", headers=BOB, timeout=60, **keywords)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert "no conversation alice-only-1" in response.text, (method, path)

    theirs = [c["id"] for c in httpx.get(f"{url}/conversations", headers=BOB).json()]
    mine = httpx.get(f"{url}/conversations/{conversation}", headers=ALICE)
    my_file = httpx.get(f"{url}/conversations/{conversation}/files/secret.csv", headers=ALICE)
    assert conversation not in theirs
    assert mine.status_code == 200 and len(mine.json()["messages"]) == 2
    assert "2 + 3" in str(mine.json()["messages"])
    assert my_file.content == b"a,b\n1,2\n"


def test_a_deleted_conversation_id_is_free_again(url: str) -> None:
    conversation = "alice-leaves-1"
    ask(url, ALICE, "what is 2 + 3?", conversation)
    assert httpx.delete(f"{url}/conversations/{conversation}", headers=ALICE).status_code == 204
    assert "4" in ask(url, BOB, "what is 2 + 2?", conversation)
    assert httpx.get(f"{url}/conversations/{conversation}", headers=ALICE).status_code == 404


def test_pages_get_security_headers(url: str) -> None:
    response = httpx.get(f"{url}/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
