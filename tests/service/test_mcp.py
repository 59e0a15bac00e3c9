"""The MCP server (/mcp) through the official `mcp` client over Streamable HTTP, against the
service as `make run` starts it (offline model, supervised local pool)."""

import base64
import json

import pytest
from mcp.client.client import Client

from tests.service.conftest import run_service
from tests.service.helpers import new_id
from tests.support.aio import run_async

PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"
TOOLS = {"run_python", "upload_file", "list_files", "download_file", "ask_agent"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with run_service({}, tmp_path_factory.mktemp("mcp-data")) as running:
        yield running


def session(service, mode: str = "auto") -> Client:
    """An MCP client: "auto" negotiates the sessionless 2026 protocol, "legacy" the
    initialize handshake with an MCP session."""
    return Client(f"{service.url}/mcp", mode=mode)


def call(service, *calls: tuple[str, dict], mode: str = "auto") -> list:
    """Make the tool calls in one MCP client session; their results."""

    async def calls_in_one_session():
        async with session(service, mode) as client:
            return [await client.call_tool(name, arguments) for name, arguments in calls]

    return run_async(calls_in_one_session())


def parsed(result) -> dict:
    """A result's structured content, which its first text block repeats as JSON for clients
    that read only text."""
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def test_the_tools_are_described_for_a_model(service):
    async def list_tools():
        async with session(service) as client:
            return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in run_async(list_tools())}
    assert set(tools) == TOOLS
    assert all(len(tool.description) > 100 for tool in tools.values())
    schema = tools["run_python"].input_schema
    assert schema["required"] == ["code"] and "conversation_id" in schema["properties"]
    assert tools["list_files"].annotations.read_only_hint
    assert tools["upload_file"].annotations.idempotent_hint
    assert not any(tool.annotations.open_world_hint for tool in tools.values())  # no network
    assert all(tool.title for tool in tools.values())
    # Each result's shape is published, so a client can read its fields without parsing text.
    outputs = {name: tool.output_schema for name, tool in tools.items()}
    assert {"status", "conversation_id"} <= set(outputs["run_python"]["required"])
    assert set(outputs["list_files"]["properties"]) == {"files", "conversation_id"}
    assert "url" in outputs["download_file"]["properties"]
    assert {"answer", "steps", "conversation_id"} <= set(outputs["ask_agent"]["properties"])


def test_run_python_keeps_state_between_calls(service):
    set_it, use_it = call(
        service, ("run_python", {"code": "x = 21\nx * 2"}), ("run_python", {"code": "x + 1"})
    )
    assert parsed(set_it)["result"] == 42 and not set_it.is_error
    assert parsed(use_it)["result"] == 22
    assert parsed(set_it)["conversation_id"] == parsed(use_it)["conversation_id"]


def test_each_mcp_session_has_its_own_code_session(service):
    first = call(service, ("run_python", {"code": "only_here = 1"}), mode="legacy")[0]
    kept, other = call(
        service,
        ("run_python", {"code": "only_here", "conversation_id": parsed(first)["conversation_id"]}),
        ("run_python", {"code": "only_here"}),
        mode="legacy",
    )
    assert parsed(kept)["result"] == 1
    assert other.is_error and "NameError" in parsed(other)["stderr"]


def test_a_plot_comes_back_as_image_content(service):
    (result,) = call(service, ("run_python", {"code": PLOT}))
    image = result.content[1]
    assert image.type == "image" and image.mime_type == "image/png"
    assert base64.b64decode(image.data).startswith(b"\x89PNG")


def test_an_exception_is_a_tool_error_with_its_traceback(service):
    (result,) = call(service, ("run_python", {"code": "1 / 0"}))
    assert result.is_error
    assert parsed(result)["status"] == "Failure" and "ZeroDivisionError" in parsed(result)["stderr"]


def test_files_go_up_are_listed_and_come_back(service):
    conversation = new_id()
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    where = {"conversation_id": conversation}
    results = call(
        service,
        ("upload_file", {"name": "data.csv", "content": "x,y\n1,2\n", **where}),
        (
            "upload_file",
            {
                "name": "/mnt/data/pic.png",
                "content": base64.b64encode(png).decode(),
                "encoding": "base64",
                **where,
            },
        ),
        (
            "upload_file",
            {
                "name": "blob.bin",
                "content": base64.b64encode(b"\xff\0\xfe").decode(),
                "encoding": "base64",
                **where,
            },
        ),
        ("list_files", where),
        ("run_python", {"code": "open('/mnt/data/data.csv').read()", **where}),
        ("download_file", {"name": "data.csv", **where}),
        ("download_file", {"name": "pic.png", **where}),
        ("download_file", {"name": "blob.bin", **where}),
        ("download_file", {"name": "missing.txt", **where}),
        ("upload_file", {"name": "../escape.txt", "content": "x", **where}),
    )
    csv, pic, _blob, listing, read, text, image, binary, missing, escape = results

    assert parsed(csv) == {"path": "/mnt/data/data.csv", "size": 8, "conversation_id": conversation}
    assert parsed(pic)["path"] == "/mnt/data/pic.png"
    assert sorted(f["name"] for f in parsed(listing)["files"]) == [
        "blob.bin",
        "data.csv",
        "pic.png",
    ]
    assert "x,y\n1,2" in str(parsed(read)["result"])  # code reads what was uploaded
    assert text.content[1].text == "x,y\n1,2\n" and "/conversations/" in parsed(text)["url"]
    assert parsed(text)["size"] == 8 and parsed(binary)["name"] == "blob.bin"
    assert image.content[1].type == "image" and base64.b64decode(image.content[1].data) == png
    assert base64.b64decode(binary.content[1].resource.blob) == b"\xff\0\xfe"
    assert missing.is_error and "no file 'missing.txt'" in missing.content[0].text
    assert escape.is_error and "plain name" in escape.content[0].text


def test_ask_agent_answers_and_follows_up_in_its_conversation(service):
    conversation = new_id()
    first, second = call(
        service,
        ("ask_agent", {"message": "What is 25 * 847?", "conversation_id": conversation}),
        (
            "ask_agent",
            {"message": "What's the square root of that?", "conversation_id": conversation},
        ),
    )
    assert "[offline model] 25 * 847 = 21175" in parsed(first)["answer"]
    assert "Python step 1 (ran)" in parsed(first)["answer"] and parsed(first)["steps"] == 1
    assert "145.51" in parsed(second)["answer"]
    assert parsed(second)["conversation_id"] == conversation
    with service.http() as http:
        listed = [c["id"] for c in http.get("/conversations").json()]
    assert conversation in listed  # and so on the page, like any other conversation


def test_a_malformed_conversation_id_is_a_tool_error(service):
    (result,) = call(service, ("list_files", {"conversation_id": "not valid!"}))
    assert result.is_error and "malformed conversation_id" in result.content[0].text


def test_ask_agent_reports_progress_per_step(service):
    progress: list[tuple[float, str | None]] = []

    async def report(done: float, _total: float | None, message: str | None) -> None:
        progress.append((done, message))

    async def ask():
        async with session(service) as client:
            arguments = {"message": "What is 3 * 14?", "conversation_id": new_id()}
            return await client.call_tool("ask_agent", arguments, progress_callback=report)

    result = run_async(ask())
    assert "42" in result.content[0].text
    assert progress == [(1, "Python step 1 ran")]
