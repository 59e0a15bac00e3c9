"""The OpenAI-compatible API (/v1) through the official `openai` client, against the real
service, the scripted model and the real local pool."""

import base64
import json
import re
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from api.openai.run import KEEP_ALIVE_SECONDS
from settings import Settings
from tests.service.helpers import agent_requests, new_id, script_code_turn
from tests.support.scripted_llm import Failure, Text, ToolCall, arithmetic_brain

FIGURE = re.compile(r"!\[Figure 1\]\((http://127\.0\.0\.1:\d+/conversations/[^)\s]+)\)")
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"


@pytest.fixture
def client(azure_service) -> Iterator[openai.OpenAI]:
    url = f"{azure_service.url}/v1"
    with openai.OpenAI(base_url=url, api_key="unused", max_retries=0) as client:
        yield client


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def ask(client: openai.OpenAI, messages: list[dict], **options):
    """A whole completion; (its content, the conversation id the service named)."""
    raw = client.chat.completions.with_raw_response.create(
        model=options.pop("model", "code-interpreter"), messages=messages, **options
    )
    completion = raw.parse()
    return completion, raw.headers["x-conversation-id"]


def test_the_models_are_the_published_runnables(client):
    assert [model.id for model in client.models.list()] == ["code-interpreter", "code-agent"]
    assert client.models.retrieve("code-agent").owned_by == "code-interpreter-agent"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-4o")
    assert missing.value.code == "model_not_found"


def test_a_computation_then_its_follow_up_in_the_conversation_the_client_holds(client, llm):
    question = [user("What is 25 * 847?")]
    first, conversation = ask(client, question)
    answer = first.choices[0].message.content
    follow_up = [
        *question,
        {"role": "assistant", "content": answer},
        user("What's the square root of that?"),
    ]
    second, same = ask(client, follow_up)

    assert "21175" in answer and first.choices[0].finish_reason == "stop"
    assert "<details>\n<summary>Python step 1 (ran)</summary>" in answer
    assert "```python\nimport math\nresult = 25 * 847\nresult\n```" in answer
    assert same == conversation  # derived from the first message: no id was sent
    assert "145.51" in second.choices[0].message.content
    assert first.object == "chat.completion" and first.model == "code-interpreter"
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens > 0


def test_a_streamed_answer_ends_with_usage_and_done(client, llm, azure_service):
    stream = client.chat.completions.create(
        model="code-interpreter",
        messages=[user("What is 6 * 7?")],
        stream=True,
        stream_options={"include_usage": True},
        metadata={"conversation_id": new_id()},
    )
    chunks = list(stream)

    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert "Python step 1 (ran)" in content and "The result is 42." in content


def test_the_stream_is_server_sent_events_ending_in_done(azure_service, llm):
    conversation = new_id()
    body = {"model": "code-interpreter", "messages": [user("What is 2 + 2?")], "stream": True}
    headers = {"X-Conversation-Id": conversation}
    with (
        azure_service.http() as http,
        http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        # Comment lines (": ping ...") keep a slow stream alive; SSE clients skip them.
        events = [line for line in response.iter_lines() if line and not line.startswith(":")]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-conversation-id"] == conversation
    assert all(line.startswith("data: ") for line in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2].removeprefix("data: "))["choices"][0]["finish_reason"] == "stop"


def test_a_long_step_keeps_the_stream_alive(azure_service, llm):
    script_code_turn(llm, f"import time\ntime.sleep({KEEP_ALIVE_SECONDS + 1})\n'slept'")
    body = {"model": "code-interpreter", "messages": [user("wait")], "stream": True}
    headers = {"X-Conversation-Id": new_id()}
    with (
        azure_service.http() as http,
        http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        lines = [line for line in response.iter_lines() if line]
    pings = [line for line in lines if line.startswith(": ping")]
    events = [line for line in lines if not line.startswith(":")]
    assert pings  # sent while the step ran: the connection never looked idle
    assert all(line.startswith("data: ") for line in events) and events[-1] == "data: [DONE]"
    assert "slept" in "".join(events)


def test_closing_the_stream_stops_the_code(client, azure_service, llm):
    conversation = new_id()
    code = "open('started', 'w').close()\nimport time\ntime.sleep(8)\nopen('finished', 'w').close()"
    script_code_turn(llm, code)
    body = {"model": "code-interpreter", "messages": [user("run it")], "stream": True}
    with azure_service.http() as http:
        headers = {"X-Conversation-Id": conversation}
        with http.stream("POST", "/v1/chat/completions", json=body, headers=headers):
            _wait_for_file(http, conversation, "started")
    # The client went away mid-step. Had the code run on, it would be done after 10 s.
    llm.reset(arithmetic_brain)  # the cut turn never asked for its scripted answer
    script_code_turn(llm, "import os, time\ntime.sleep(10)\nsorted(os.listdir())")
    listed, _ = ask(client, [user("list")], metadata={"conversation_id": conversation})

    assert "'started'" in listed.choices[0].message.content
    assert "finished" not in listed.choices[0].message.content


def _wait_for_file(http: httpx.Client, conversation: str, name: str) -> None:
    for _ in range(600):
        files = http.get(f"/conversations/{conversation}/files")
        if files.status_code == 200 and name in str(files.json()):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never appeared")


def test_a_turn_through_v1_is_a_conversation_like_any_other(client, azure_service, llm):
    conversation = new_id()
    ask(client, [user("What is 12 * 12?")], metadata={"conversation_id": conversation})

    with azure_service.http() as http:
        listed = {c["id"]: c["title"] for c in http.get("/conversations").json()}
        history = http.get(f"/conversations/{conversation}").json()["messages"]
        chat = http.post(
            "/chat/invoke",
            json={
                "input": {"message": "What's the square root of that?"},
                "config": {"configurable": {"conversation_id": conversation}},
            },
        ).json()["output"]
    assert listed[conversation] == "What is 12 * 12?"
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[1]["steps"][0]["result"] == 144
    assert chat["output"] == "The result is 12.0."  # /chat continues the same conversation


def test_the_conversation_is_named_by_header_metadata_or_the_first_message(client, llm):
    named = new_id()
    _, by_header = ask(client, [user("hi")], extra_headers={"X-Conversation-Id": named})
    _, by_metadata = ask(client, [user("hi")], metadata={"conversation_id": named})
    opening = f"hello {new_id()}"
    _, first = ask(client, [user(opening)])
    _, again = ask(client, [user(opening), {"role": "assistant", "content": "x"}, user("more")])
    _, other = ask(client, [user(f"hello {new_id()}")])
    webui = {"X-OpenWebUI-Chat-Id": new_id()}
    _, from_webui = ask(client, [user("hi")], extra_headers=webui)
    _, from_webui_again = ask(client, [user("again")], extra_headers=webui)

    assert by_header == by_metadata == named
    assert first == again != other and first.startswith("oai-")
    assert from_webui == from_webui_again and from_webui.startswith("owui-")
    with pytest.raises(openai.BadRequestError) as conflict:
        ask(
            client,
            [user("hi")],
            metadata={"conversation_id": "a"},
            extra_headers={"X-Conversation-Id": "b"},
        )
    assert conflict.value.param == "metadata.conversation_id"


def test_plots_are_linked_never_inlined(client, azure_service, llm):
    script_code_turn(llm, PLOT, answer="Here is the plot.")
    completion, conversation = ask(
        client, [user("plot it")], metadata={"conversation_id": new_id()}
    )
    content = completion.choices[0].message.content

    link = FIGURE.search(content).group(1)
    assert f"/conversations/{conversation}/images/" in link and "?sig=" in link
    assert "base64" not in content and "iVBOR" not in content
    image = httpx.get(link)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")


def test_the_agent_model_runs_on_the_clients_messages(client, azure_service, llm):
    conversation = new_id()
    history = [
        user("What is 6 * 7?"),
        {"role": "assistant", "content": "The result is 42."},
        user("What's the square root of that?"),
    ]
    completion, _ = ask(
        client, history, model="code-agent", metadata={"conversation_id": conversation}
    )

    assert "6.48" in completion.choices[0].message.content
    sent = agent_requests(llm)[0]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]

    llm.script(ToolCall("Python_REPL", {"python_code": PLOT}), Text("Plotted."))
    plotted, _ = ask(
        client, [user("plot")], model="code-agent", metadata={"conversation_id": conversation}
    )
    link = FIGURE.search(plotted.choices[0].message.content).group(1)
    assert re.search(r"/files/figure-[0-9a-f]{12}\.png\?sig=", link)
    assert httpx.get(link).content.startswith(b"\x89PNG")  # kept as a file of the session


def test_a_file_part_goes_into_the_code_session(client, azure_service, llm):
    conversation = new_id()
    csv = b"x,y\n1,2\n"
    encoded = base64.b64encode(csv).decode()
    script_code_turn(llm, "print(open('/mnt/data/data.csv').read())", answer="Two columns.")
    question = [
        {"type": "text", "text": "What is in my file?"},
        file_part("data.csv", f"data:text/csv;base64,{encoded}"),
    ]
    completion, _ = ask(
        client, [{"role": "user", "content": question}], metadata={"conversation_id": conversation}
    )

    answer = completion.choices[0].message.content
    assert "x,y\n1,2" in answer and "Two columns." in answer  # the code read the file
    asked = [str(r["body"]["messages"][-1]["content"]) for r in llm.requests[-3:]]
    assert any("[attached file: /mnt/data/data.csv]" in text for text in asked)
    with azure_service.http() as http:
        kept = http.get(f"/conversations/{conversation}/files/data.csv")
    assert kept.content == csv


def test_an_image_part_is_a_file_named_after_its_content(client, azure_service, llm):
    conversation = new_id()
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    url = f"data:image/png;base64,{base64.b64encode(png).decode()}"
    llm.script(ToolCall("RouteDecision", {"route": "chat"}), Text("A picture."))
    question = [{"type": "text", "text": "What is this?"}, image_part(url)]
    ask(client, [{"role": "user", "content": question}], metadata={"conversation_id": conversation})

    with azure_service.http() as http:
        (listed,) = http.get(f"/conversations/{conversation}/files").json()["files"]
        kept = http.get(f"/conversations/{conversation}/files/{listed['name']}").content
    assert re.fullmatch(r"image-[0-9a-f]{12}\.png", listed["name"]) and kept == png
    asked = str(llm.requests[-2]["body"]["messages"][-1]["content"])
    assert f"[attached file: /mnt/data/{listed['name']}]" in asked


def test_stop_sequences_end_the_answer(client, llm):
    llm.script(ToolCall("RouteDecision", {"route": "chat"}), Text("Hello there. END of it"))
    completion, _ = ask(
        client, [user("say it")], stop=["END"], metadata={"conversation_id": new_id()}
    )

    assert completion.choices[0].message.content == "Hello there. "
    assert completion.choices[0].finish_reason == "stop"


def test_max_tokens_cuts_the_answer(client, llm):
    llm.script(ToolCall("RouteDecision", {"route": "chat"}), Text("one two three four five six"))
    completion, _ = ask(
        client, [user("count")], max_tokens=2, metadata={"conversation_id": new_id()}
    )

    assert completion.choices[0].message.content == "one two "  # 2 tokens of 4 characters
    assert completion.choices[0].finish_reason == "length"


def test_parameters_that_change_nothing_are_accepted(client, llm):
    # What LibreChat sends unless told otherwise.
    completion, _ = ask(
        client,
        [user("What is 2 + 5?")],
        temperature=1,
        top_p=1,
        presence_penalty=0,
        frequency_penalty=0,
        stop=["||>", "\nUser:", "<|diff_marker|>"],
        user="librechat-user",
        metadata={"conversation_id": new_id()},
    )
    assert "7" in completion.choices[0].message.content


def file_part(name: str, data: str) -> dict:
    """OpenAI's file content part: the file's name and its bytes in base64."""
    return {"type": "file", "file": {"filename": name, "file_data": data}}


def image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


REFUSED = [
    ({"temperature": 0.2}, 400, "temperature", "cannot be set per request"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, 400, "tools", "not supported"),
    ({"n": 2}, 400, "n", "not supported"),
    ({"response_format": {"type": "json_object"}}, 400, "response_format", "not supported"),
    ({"foo": 1}, 400, None, "Unrecognized request argument supplied: foo"),
    ({"messages": []}, 400, "messages", "at least 1"),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, 400, "messages[0].role", "user's"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, 400, "messages[0].role", "Input should"),
    (
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        400,
        "messages[0].content[0]",
        "reads text",
    ),
    (
        {"messages": [{"role": "user", "content": [image_part("https://example.com/a.png")]}]},
        400,
        "messages[0].content[0]",
        "does not fetch URLs",
    ),
    (
        {"messages": [{"role": "user", "content": [file_part("a.csv", "not base64!")]}]},
        400,
        "messages[0].content[0]",
        "not valid base64",
    ),
    (
        {"messages": [{"role": "user", "content": [file_part("../a.csv", "eA==")]}]},
        400,
        "messages[0].content[0]",
        "plain name",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]},
        400,
        "messages[0].content[0]",
        "filename",
    ),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "file", "file": {"file_id": "f", "filename": "a.csv"}}],
                }
            ]
        },
        400,
        "messages[0].content[0]",
        "file_id and file_url are not supported",
    ),
    ({"messages": [user("x" * 8001)]}, 400, "messages[0].content", "8000 characters"),
    ({"messages": [user("\ud800")]}, 400, "messages[0].content", "Unicode"),
    ({"metadata": {"conversation_id": "no spaces"}}, 400, "metadata.conversation_id", "1-64"),
    ({"model": "gpt-4o"}, 404, "model", "does not exist"),
    ({"stop": ["a", "b", "c", "d", "e"]}, 400, "stop", "at most 4"),
]


@pytest.mark.parametrize(("change", "status", "param", "words"), REFUSED)
def test_what_cannot_be_applied_is_refused_in_openais_error_body(
    azure_service, llm, change, status, param, words
):
    body = {"model": "code-interpreter", "messages": [user("hi")], **change}
    with azure_service.http() as http:
        response = http.post(
            "/v1/chat/completions",
            content=json.dumps(body),  # ASCII escapes: the lone surrogate survives
            headers={"content-type": "application/json"},
        )

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and words in error["message"]
    assert error["type"] == "invalid_request_error"


TURN_BYTES = Settings.model_fields["max_upload_bytes"].default * 4 // 3 + 64 * 1024 + 1


@pytest.mark.parametrize(
    ("method", "path", "content", "status"),
    [
        ("POST", "/v1/chat/completions", b"{not json", 400),
        ("POST", "/v1/chat/completions", b"[1, 2]", 400),
        ("GET", "/v1/chat/completions", b"", 405),
        ("GET", "/v1/assistants", b"", 404),
        ("POST", "/v1/models", b"x" * 1_000_001, 413),
        # A turn may carry a file of up to MAX_UPLOAD_BYTES in base64, and no more.
        ("POST", "/v1/chat/completions", b"x" * TURN_BYTES, 413),
    ],
)
def test_every_error_under_v1_has_openais_shape(azure_service, method, path, content, status):
    headers = {"content-type": "application/json"}
    with azure_service.http() as http:
        response = http.request(method, path, content=content, headers=headers)
    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_a_failing_model_is_an_error_the_sdk_raises(client, llm):
    llm.script(Failure(500), Failure(500))
    with pytest.raises(openai.InternalServerError) as failed:
        ask(client, [user("hi")], metadata={"conversation_id": new_id()})
    assert failed.value.status_code == 502 and "HTTP 500" in failed.value.message

    llm.script(Failure(500), Failure(500))
    stream = client.chat.completions.create(
        model="code-interpreter",
        messages=[user("hi")],
        stream=True,
        metadata={"conversation_id": new_id()},
    )
    with pytest.raises(openai.APIError) as broken:
        list(stream)
    assert "HTTP 500" in broken.value.message
