"""OpenAI's Responses API (/v1/responses) through the official `openai` client, against the
real service, the scripted model and the real local pool."""

import base64
import json

import httpx
import openai
import pytest

from tests.service.helpers import agent_requests, new_id, script_code_turn
from tests.support.scripted_llm import Failure, Text, ToolCall

PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"


@pytest.fixture
def client(azure_service) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{azure_service.url}/v1", api_key="unused", max_retries=0)


def test_code_steps_are_code_interpreter_calls_and_follow_ups_continue(client, azure_service, llm):
    first = client.responses.create(model="code-interpreter", input="What is 25 * 847?")
    call, message = first.output
    follow_up = client.responses.create(
        model="code-interpreter",
        input="What's the square root of that?",
        previous_response_id=first.id,
    )

    assert first.status == "completed" and first.object == "response"
    assert call.type == "code_interpreter_call" and call.status == "completed"
    assert "25 * 847" in call.code and call.container_id == first.conversation.id
    assert [(o.type, o.logs) for o in call.outputs] == [("logs", "21175\n")]
    assert message.type == "message" and first.output_text == "The result is 21175."
    assert "145.51" in follow_up.output_text
    assert follow_up.conversation.id == first.conversation.id
    assert first.usage.total_tokens == first.usage.input_tokens + first.usage.output_tokens
    with azure_service.http() as http:
        listed = [c["id"] for c in http.get("/conversations").json()]
    assert first.conversation.id in listed


def test_the_stream_is_the_apis_typed_events(client, llm):
    conversation = new_id()
    with client.responses.stream(
        model="code-interpreter", input="What is 6 * 7?", conversation=conversation
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()

    kinds = [event.type for event in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-1] == "response.completed"
    assert (
        kinds.index("response.code_interpreter_call_code.delta")
        < kinds.index("response.code_interpreter_call.completed")
        < kinds.index("response.output_text.delta")
    )
    assert [event.sequence_number for event in events] == list(range(len(events)))
    texts = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert texts == final.output_text == "The result is 42."
    assert final.conversation.id == conversation


def test_plots_are_image_outputs_with_links(client, llm):
    script_code_turn(llm, PLOT, answer="Plotted.")
    response = client.responses.create(
        model="code-interpreter", input="plot", conversation=new_id()
    )
    (image,) = [o for o in response.output[0].outputs if o.type == "image"]

    fetched = httpx.get(image.url)
    assert "?sig=" in image.url and fetched.content.startswith(b"\x89PNG")


def test_the_agent_reads_the_input_list_and_the_instructions(client, llm):
    history = [
        {"role": "user", "content": "What is 6 * 7?"},
        {"type": "code_interpreter_call", "id": "ci_1", "code": "6 * 7", "status": "completed"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "The result is 42."}]},
        {
            "role": "user",
            "content": [{"type": "input_text", "text": "What's the square root of that?"}],
        },
    ]
    response = client.responses.create(
        model="code-agent", input=history, instructions="Answer in one line.", conversation=new_id()
    )

    assert "6.48" in response.output_text
    sent = agent_requests(llm)[0]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "system", "user", "assistant", "user"]
    assert sent[1]["content"] == "Answer in one line."


def test_an_input_file_goes_into_the_code_session(client, azure_service, llm):
    conversation = new_id()
    llm.script(ToolCall("Python_REPL", {"python_code": "open('/mnt/data/n.txt').read()"}))
    llm.script(Text("It says 17."))
    attached = {
        "type": "input_file",
        "filename": "n.txt",
        "file_data": base64.b64encode(b"17").decode(),
    }
    question = [{"type": "input_text", "text": "What does my file say?"}, attached]
    response = client.responses.create(
        model="code-agent",
        input=[{"role": "user", "content": question}],
        conversation=conversation,
    )

    call = response.output[0]
    assert call.type == "code_interpreter_call" and "17" in call.outputs[0].logs
    with azure_service.http() as http:
        assert http.get(f"/conversations/{conversation}/files/n.txt").content == b"17"


def test_max_output_tokens_makes_the_response_incomplete(client, llm):
    llm.script(ToolCall("RouteDecision", {"route": "chat"}), Text("one two three four five six"))
    response = client.responses.create(
        model="code-interpreter", input="count", max_output_tokens=2, conversation=new_id()
    )
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "one two "


def test_the_code_interpreter_tool_is_accepted_and_other_tools_refused(client, llm):
    accepted = client.responses.create(
        model="code-interpreter",
        input="What is 2 + 2?",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        conversation=new_id(),
    )
    assert "4" in accepted.output_text
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(
            model="code-interpreter",
            input="hi",
            tools=[{"type": "function", "name": "f", "parameters": {}}],
        )
    assert refused.value.param == "tools[0]"


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"temperature": 0.3}, 400, "temperature"),
        ({"reasoning": {"effort": "high"}}, 400, "reasoning"),
        (
            {"input": [{"type": "function_call_output", "call_id": "x", "output": "1"}]},
            400,
            "input[0]",
        ),
        ({"input": [{"role": "assistant", "content": "hi"}]}, 400, "input[0].role"),
        ({"previous_response_id": "resp_unknown"}, 404, "previous_response_id"),
        ({"conversation": "a", "previous_response_id": f"resp_{'0' * 24}b"}, 400, "conversation"),
        ({"model": "gpt-4o"}, 404, "model"),
        ({"frobnicate": True}, 400, None),
    ],
)
def test_what_cannot_be_applied_is_refused(azure_service, llm, change, status, param):
    body = {"model": "code-interpreter", "input": "hi", **change}
    with azure_service.http() as http:
        response = http.post(
            "/v1/responses", content=json.dumps(body), headers={"content-type": "application/json"}
        )
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param


def test_another_conversation_of_the_caller_is_not_someone_elses(client, llm):
    conversation = new_id()
    first = client.responses.create(
        model="code-interpreter", input="What is 2 * 8?", conversation=conversation
    )
    again = client.responses.create(
        model="code-interpreter",
        input="What's the square root of that?",
        conversation={"id": conversation},
    )
    assert first.conversation.id == again.conversation.id == conversation
    assert "4.0" in again.output_text


def test_a_failing_model_fails_the_response(client, llm):
    llm.script(Failure(500), Failure(500))
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="code-interpreter", input="hi", conversation=new_id())

    llm.script(Failure(500), Failure(500))
    stream = client.responses.create(
        model="code-interpreter", input="hi", stream=True, conversation=new_id()
    )
    events = list(stream)
    assert events[-1].type == "response.failed"
    assert "HTTP 500" in events[-1].response.error.message
