"""/chat and /agent over real HTTP: AzureChatOpenAI against the scripted model, the real pool."""

import json

from tests.service.helpers import agent_requests, config, new_id, script_code_turn
from tests.support.aio import run_async
from tests.support.scripted_llm import Text, ToolCall


def test_follow_up_uses_the_previous_result(azure_service, llm):
    chat = azure_service.remote("/chat")
    conversation = new_id()
    first = chat.invoke({"message": "What is 25 * 847?"}, config(conversation))
    second = chat.invoke({"message": "What's the square root of that?"}, config(conversation))

    assert first["route"] == "python" and "21175" in first["output"]
    assert first["steps"][0]["result"] == 21175
    assert "25 * 847" in first["steps"][0]["code"]
    assert second["output"].startswith("The result is 145.51")
    assert second["conversation_id"] == conversation


def test_requests_reach_azure_openai_with_the_deployment_and_key(azure_service, llm):
    azure_service.remote("/chat").invoke({"message": "hello"}, config(new_id()))

    request = llm.requests[-1]
    assert request["path"].startswith("/openai/deployments/scripted-deployment/chat/completions")
    assert "api-version=" in request["path"]
    assert request["headers"]["api-key"] == "scripted-azure-key"


def test_the_conversation_id_arrives_and_keys_the_history(azure_service, llm):
    conversation = new_id()
    azure_service.remote("/chat").invoke({"message": "What is 6 * 7?"}, config(conversation))

    with azure_service.http() as http:
        stored = http.get(f"/conversations/{conversation}").json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
    assert stored["messages"][1]["route"] == "python"
    assert stored["messages"][1]["steps"][0]["result"] == 42


def test_without_an_id_the_server_issues_one(azure_service, llm):
    result = azure_service.remote("/chat").invoke({"message": "hello"})

    assert result["route"] == "chat"
    with azure_service.http() as http:
        assert http.get(f"/conversations/{result['conversation_id']}").status_code == 200


def test_router_answers_plain_messages_directly(azure_service, llm):
    result = azure_service.remote("/chat").invoke({"message": "hello there"}, config(new_id()))

    assert result["route"] == "chat" and result["steps"] == []
    assert result["output"].startswith("Hello from the scripted model")
    assert agent_requests(llm) == []
    router_request = llm.requests[0]["body"]
    assert router_request["tools"][0]["function"]["name"] == "RouteDecision"


def test_router_decision_comes_from_the_model_not_keywords(azure_service, llm):
    llm.script(ToolCall("RouteDecision", {"route": "chat"}), Text("I would rather not compute."))
    result = azure_service.remote("/chat").invoke({"message": "What is 2 * 2?"}, config(new_id()))

    assert result["route"] == "chat"
    assert result["output"] == "I would rather not compute."


def test_two_conversations_keep_separate_variables(azure_service, llm):
    chat = azure_service.remote("/chat")
    first, second = new_id(), new_id()
    script_code_turn(llm, "secret = 41\nsecret")
    chat.invoke({"message": "remember 41"}, config(first))
    script_code_turn(llm, "secret")
    other = chat.invoke({"message": "what is the secret?"}, config(second))
    script_code_turn(llm, "secret + 1")
    same = chat.invoke({"message": "what is the secret?"}, config(first))

    assert other["steps"][0]["status"] == "Failure"
    assert "NameError" in other["steps"][0]["stderr"]
    assert same["steps"][0]["result"] == 42


def test_batch_runs_each_input_in_its_own_conversation(azure_service, llm):
    chat = azure_service.remote("/chat")
    ids = [new_id(), new_id()]
    results = chat.batch(
        [{"message": "What is 2 * 3?"}, {"message": "hello"}], [config(i) for i in ids]
    )

    assert [r["conversation_id"] for r in results] == ids
    assert [r["route"] for r in results] == ["python", "chat"]
    assert "6" in results[0]["output"]


def test_stream_sends_route_then_code_then_result_then_tokens(azure_service, llm):
    chunks = list(
        azure_service.remote("/chat").stream({"message": "What is 12 * 12?"}, config(new_id()))
    )

    assert chunks[0]["route"] == "python"
    step_chunks = [c["steps"][0] for c in chunks if c.get("steps")]
    assert step_chunks[0]["status"] == "running" and "12 * 12" in step_chunks[0]["code"]
    assert step_chunks[1]["status"] == "Success" and step_chunks[1]["result"] == 144
    tokens = [c["output"] for c in chunks if c.get("output")]
    assert len(tokens) > 1 and "".join(tokens) == "The result is 144."
    assert chunks.index(next(c for c in chunks if c.get("output"))) > chunks.index(
        next(c for c in chunks if c.get("steps") and c["steps"][0]["status"] == "Success")
    )


def test_direct_route_streams_token_by_token(azure_service, llm):
    chunks = list(azure_service.remote("/chat").stream({"message": "hi"}, config(new_id())))

    tokens = [c["output"] for c in chunks if c.get("output")]
    assert len(tokens) > 3
    assert "".join(tokens).startswith("Hello from the scripted model")


async def _collect_events(remote, message: str, conversation: str) -> list[dict]:
    return [
        event
        async for event in remote.astream_events(
            {"message": message}, config(conversation), version="v2"
        )
    ]


def test_stream_events_show_the_tool_as_it_runs_and_model_tokens(azure_service, llm):
    remote = azure_service.remote("/chat")
    events = run_async(_collect_events(remote, "What is 3 * 14?", new_id()))
    kinds = [e["event"] for e in events]

    assert kinds.index("on_tool_start") < kinds.index("on_tool_end")
    tool_start = events[kinds.index("on_tool_start")]
    assert "3 * 14" in tool_start["data"]["input"]["python_code"]
    model_tokens = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert len(model_tokens) > 1
    assert kinds.index("on_tool_end") < kinds.index("on_chain_end", kinds.index("on_tool_end"))


def test_get_chat_answers_like_the_original_sample(azure_service, llm):
    conversation = new_id()
    with azure_service.http() as http:
        body = http.get(
            "/chat", params={"message": "What is 25 * 847?", "conversation_id": conversation}
        ).json()

    assert body == {
        "output": "The result is 21175.",
        "route": "python",
        "conversation_id": conversation,
    }


def test_images_reach_the_client_but_not_the_model(azure_service, llm):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()"
    script_code_turn(llm, code, answer="Here is the plot.")
    result = azure_service.remote("/chat").invoke({"message": "plot squares"}, config(new_id()))

    images = result["steps"][0]["images"]
    assert len(images) == 1 and images[0].startswith("iVBORw0KGgo")  # base64 of a PNG header
    tool_message = llm.requests[-1]["body"]["messages"][-1]
    assert tool_message["role"] == "tool" and "iVBORw0KGgo" not in tool_message["content"]


def test_agent_route_invoke_uses_the_conversations_session(azure_service, llm):
    conversation = new_id()
    llm.script(ToolCall("Python_REPL", {"python_code": "shared = 7\nshared"}), Text("Set."))
    state = azure_service.remote("/agent").invoke(
        {"messages": [{"role": "user", "content": "set shared to 7"}]}, config(conversation)
    )
    script_code_turn(llm, "shared * 6")
    result = azure_service.remote("/chat").invoke({"message": "use it"}, config(conversation))

    assert state["messages"][-1].content == "Set."
    assert result["steps"][0]["result"] == 42


def test_agent_route_batch_and_stream(azure_service, llm):
    agent = azure_service.remote("/agent")
    question = {"messages": [{"role": "user", "content": "What is 9 * 9?"}]}
    results = agent.batch([question, question], [config(new_id()), config(new_id())])
    chunks = list(agent.stream(question, config(new_id())))

    assert all(r["messages"][-1].content == "The result is 81." for r in results)
    assert any("model" in c for c in chunks) and any("tools" in c for c in chunks)


def test_stream_log_sends_patches_up_to_the_final_output(azure_service, llm):
    # Over raw HTTP: LangServe's client cannot rebuild the agent's tool messages from patches.
    body = {"input": {"message": "What is 5 * 5?"}, "config": config(new_id())}
    with azure_service.http() as http:
        response = http.post("/chat/stream_log", json=body)
    patches = [
        json.loads(line[len("data: ") :])
        for line in response.text.splitlines()
        if line.startswith("data: {")
    ]
    ops = [op for patch in patches for op in patch.get("ops", [])]

    assert response.text.rstrip().endswith("event: end")
    tokens = [op["value"] for op in ops if op["path"] == "/streamed_output/-"]
    assert "".join(t.get("output", "") for t in tokens) == "The result is 25."
    assert any(op["path"].endswith("/final_output") for op in ops)
