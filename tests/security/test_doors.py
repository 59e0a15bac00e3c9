"""The OpenAI-compatible API and the MCP server with authentication on: the same users,
limits and conversation ownership as every other route, and links that open one image or
file without credentials."""

import base64
import json
import re
from collections.abc import Callable, Iterator

import httpx
import httpx2
import openai
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.security.conftest import ALICE_KEY, BOB_KEY, serve_keyed_service
from tests.service.helpers import script_code_turn
from tests.support.aio import run_async
from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain

ALICE, BOB = {"Authorization": f"Bearer {ALICE_KEY}"}, {"X-API-Key": BOB_KEY}
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"
LINK = re.compile(r"\((http://127\.0\.0\.1:\d+/conversations/[^)\s]+)\)")


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(arithmetic_brain) as llm:
        yield llm


@pytest.fixture(scope="module")
def url(session_pool, model, tmp_path_factory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("doors-data")
    with serve_keyed_service(session_pool, data, model) as base:
        yield base


@pytest.fixture(scope="module")
def openai_client(url) -> Iterator[Callable[[str], openai.OpenAI]]:
    """The official client for the key given (one per key), closed after the module."""
    clients: dict[str, openai.OpenAI] = {}

    def client(key: str) -> openai.OpenAI:
        if key not in clients:
            clients[key] = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        return clients[key]

    yield client
    for made in clients.values():
        made.close()


def mcp_calls(url: str, headers: dict, *calls: tuple[str, dict]) -> list:
    async def calls_in_one_session():
        http = httpx2.AsyncClient(headers=headers)
        async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http)) as mcp:
            return [await mcp.call_tool(name, arguments) for name, arguments in calls]

    return run_async(calls_in_one_session())


def test_a_key_is_needed_at_both_doors(url, openai_client):
    with pytest.raises(openai.AuthenticationError) as refused:
        openai_client("not-a-key").models.list()
    assert refused.value.body["type"] == "invalid_request_error"
    assert [m.id for m in openai_client(ALICE_KEY).models.list()] == [
        "code-interpreter",
        "code-agent",
    ]

    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    anonymous = httpx.post(f"{url}/mcp", json=initialize, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    (listed,) = mcp_calls(url, ALICE, ("list_files", {}))
    assert not listed.is_error


def test_another_users_conversation_is_refused_at_both_doors(url, openai_client):
    conversation = "alice-doors-1"
    alice = openai_client(ALICE_KEY)
    alice.chat.completions.create(
        model="code-interpreter",
        messages=[{"role": "user", "content": "What is 2 + 3?"}],
        metadata={"conversation_id": conversation},
    )

    for model in ("code-interpreter", "code-agent"):
        with pytest.raises(openai.NotFoundError) as refused:
            openai_client(BOB_KEY).chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "What is 2 + 2?"}],
                extra_headers={"X-Conversation-Id": conversation},
            )
        assert "no conversation alice-doors-1" in refused.value.message
    # The Responses API: by conversation, and by one of alice's response ids (which carry it).
    alices_response = alice.responses.create(
        model="code-interpreter", input="And 2 + 4?", conversation=conversation
    )
    for continued in ({"conversation": conversation}, {"previous_response_id": alices_response.id}):
        with pytest.raises(openai.NotFoundError) as refused:
            openai_client(BOB_KEY).responses.create(
                model="code-interpreter", input="What is 2 + 2?", **continued
            )
        assert "no conversation alice-doors-1" in refused.value.message
    where = {"conversation_id": conversation}
    results = mcp_calls(
        url,
        BOB,
        ("run_python", {"code": "1", **where}),
        ("upload_file", {"name": "x.txt", "content": "x", **where}),
        ("list_files", where),
        ("download_file", {"name": "x.txt", **where}),
        ("ask_agent", {"message": "What is 2 + 2?", **where}),
    )
    for result in results:
        assert result.is_error and "no conversation alice-doors-1" in result.content[0].text
    with httpx.Client(base_url=url, headers=ALICE) as http:
        assert http.get(f"/conversations/{conversation}").json()["title"] == "What is 2 + 3?"
        assert http.get(f"/conversations/{conversation}/files").json() == {"files": []}


def test_an_mcp_session_belongs_to_the_user_who_opened_it(url):
    accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": VERSION}
    opened = httpx.post(f"{url}/mcp", json=INITIALIZE, headers={**ALICE, **accept}, timeout=30)
    session = {**accept, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    httpx.post(f"{url}/mcp", json=initialized, headers={**ALICE, **session}, timeout=30)

    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    bobs = httpx.post(f"{url}/mcp", json=listing, headers={**BOB, **session}, timeout=30)
    alices = httpx.post(f"{url}/mcp", json=listing, headers={**ALICE, **session}, timeout=30)
    assert bobs.status_code == 404
    assert alices.status_code == 200 and "run_python" in alices.text


VERSION = "2025-11-25"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": VERSION,
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


def test_links_in_answers_open_without_credentials_and_only_what_they_name(
    url, model, openai_client
):
    script_code_turn(model, PLOT, answer="Plotted.")
    answer = (
        openai_client(ALICE_KEY)
        .chat.completions.create(
            model="code-interpreter",
            messages=[{"role": "user", "content": "plot it"}],
            metadata={"conversation_id": "alice-plot-1"},
        )
        .choices[0]
        .message.content
    )
    image_url = LINK.search(answer).group(1)
    (download,) = mcp_calls(url, ALICE, ("download_file", {"name": "x.csv", **_uploaded(url)}))
    file_url = download.structured_content["url"]

    image = httpx.get(image_url)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert httpx.get(file_url).content == b"a,b\n"
    for forged in (
        image_url[:-1] + ("0" if image_url[-1] != "0" else "1"),
        image_url.split("?")[0],
        file_url.replace("x.csv", "y.csv"),
        file_url.replace("alice-link-1", "alice-plot-1"),
    ):
        assert httpx.get(forged).status_code in (401, 404), forged


def _uploaded(url: str) -> dict:
    conversation = "alice-link-1"
    files = {"file": ("x.csv", b"a,b\n")}
    response = httpx.post(f"{url}/conversations/{conversation}/files", files=files, headers=ALICE)
    assert response.status_code == 200
    return {"conversation_id": conversation}


def test_an_image_result_is_image_content_for_its_owner(url):
    (result,) = mcp_calls(url, ALICE, ("run_python", {"code": PLOT}))
    assert base64.b64decode(result.content[1].data).startswith(b"\x89PNG")
    assert json.loads(result.content[0].text)["status"] == "Success"
