"""The real service with its guards: two users, each sees only their own things.

Conversation ids are namespaced per user: the same id names two unrelated conversations,
and nothing of one user's (history, code session, files) is reachable by another.
"""

from collections.abc import Iterator

import httpx
import pytest

from settings import Settings
from tests.security.conftest import ALICE_KEY, BOB_KEY, make_settings, serve
from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain

ALICE, BOB = {"X-API-Key": ALICE_KEY}, {"Authorization": f"Bearer {BOB_KEY}"}
CONVERSATION = "shared-name-1"


@pytest.fixture(scope="module")
def url(session_pool, tmp_path_factory) -> Iterator[str]:
    from server import create_app

    with ScriptedLLM(arithmetic_brain) as llm:
        settings = Settings(
            _env_file=None,
            azure_openai_endpoint=llm.url,
            azure_openai_api_key="scripted-azure-key",
            azure_openai_deployment="scripted-deployment",
            pool_management_endpoint=session_pool.endpoint,
            session_pool_api_key=session_pool.api_key,
            data_dir=tmp_path_factory.mktemp("wiring-data"),
            auth_mode="api_key",
            api_keys=make_settings().api_keys,
        )
        app = create_app(settings)
        with serve(app, lifespan="on") as base:
            yield base


def ask(url: str, who: dict, message: str) -> str:
    body = {
        "input": {"message": message},
        "config": {"configurable": {"conversation_id": CONVERSATION}},
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
        ("GET", f"/conversations/{CONVERSATION}/files", None),
        ("GET", "/chat/playground/", None),
    ]
    for method, path, body in calls:
        response = httpx.request(method, f"{url}{path}", json=body, timeout=30)
        assert response.status_code == 401, (method, path, response.status_code)


def test_two_users_with_the_same_conversation_id_share_nothing(url: str) -> None:
    assert "42" in ask(url, ALICE, "what is 6 * 7?")
    bobs_follow_up = ask(url, BOB, "what is the square root of that?")
    alices_follow_up = ask(url, ALICE, "what is the square root of that?")
    assert "6.48" in alices_follow_up
    assert "6.48" not in bobs_follow_up


def test_another_users_conversation_is_not_found_and_survives_their_delete(url: str) -> None:
    body = {"input": {"message": "what is 2 + 3?"}}
    body["config"] = {"configurable": {"conversation_id": "alice-only-1"}}
    assert httpx.post(f"{url}/chat/invoke", json=body, headers=ALICE, timeout=60).is_success
    theirs = [c["id"] for c in httpx.get(f"{url}/conversations", headers=BOB).json()]
    peek = httpx.get(f"{url}/conversations/alice-only-1", headers=BOB)
    httpx.delete(f"{url}/conversations/alice-only-1", headers=BOB)
    mine = httpx.get(f"{url}/conversations/alice-only-1", headers=ALICE)
    assert "alice-only-1" not in theirs
    assert peek.status_code == 404
    assert mine.status_code == 200
    assert "2 + 3" in str(mine.json()["messages"])


def test_pages_get_security_headers(url: str) -> None:
    response = httpx.get(f"{url}/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_another_users_files_are_out_of_reach(url: str) -> None:
    files = f"{url}/conversations/alice-files-1/files"
    upload = httpx.post(files, files={"file": ("secret.csv", b"a,b\n1,2\n")}, headers=ALICE)
    assert upload.status_code == 200, upload.text

    bobs_list = httpx.get(files, headers=BOB)
    bobs_download = httpx.get(f"{files}/secret.csv", headers=BOB)
    alices_download = httpx.get(f"{files}/secret.csv", headers=ALICE)

    assert bobs_list.status_code == 200 and bobs_list.json()["files"] == []
    assert bobs_download.status_code == 404
    assert alices_download.content == b"a,b\n1,2\n"
