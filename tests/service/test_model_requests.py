"""The model's requests, sent without the OpenAI SDK's transform (llms/completions.py), are
byte for byte what the SDK itself sends: same path, headers that matter, and body; and the
answers (streamed chunks read as plain JSON) make the same LangChain messages."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from openai import DefaultAsyncHttpxClient

from llms import build_chat_model
from llms.completions import AsBuiltCompletions, send_as_built
from settings import Settings
from tests.support.aio import run_async
from tests.support.scripted_llm import Text, ToolCall

HISTORY = [
    SystemMessage("You are a helpful assistant."),
    HumanMessage("What is 6 * 7?"),
    AIMessage(
        "", tool_calls=[{"name": "Python_REPL", "args": {"python_code": "6 * 7"}, "id": "c1"}]
    ),
    ToolMessage('{"result": 42}', tool_call_id="c1"),
    AIMessage("The result is 42."),
    HumanMessage(
        [
            {"type": "text", "text": "And this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]
    ),
]
TOOL = {
    "type": "function",
    "function": {
        "name": "Python_REPL",
        "description": "Run Python.",
        "parameters": {"type": "object", "properties": {"python_code": {"type": "string"}}},
    },
}
MATTERING_HEADERS = ("authorization", "api-key", "content-type", "accept")


def _models(llm, azure: bool):
    """The SDK's model and the service's, and their HTTP clients (for the test to close)."""
    clients = []

    def build():
        # A client of its own: LangChain's shared default one keeps connections of an earlier
        # test's event loop.
        clients.append(DefaultAsyncHttpxClient())
        fresh = {"max_retries": 0, "http_async_client": clients[-1]}
        if azure:
            return AzureChatOpenAI(
                azure_endpoint=llm.url,
                azure_deployment="scripted-deployment",
                api_version="2024-10-21",
                api_key="scripted-azure-key",
                **fresh,
            )
        return ChatOpenAI(base_url=llm.openai_base_url, api_key="scripted", model="m", **fresh)

    return build(), send_as_built(build()), clients


def _sent(llm) -> dict:
    request = llm.requests[-1]
    headers = {name.lower(): value for name, value in request["headers"].items()}
    return {
        "path": request["path"],
        "headers": {name: headers.get(name) for name in MATTERING_HEADERS},
        "body": request["body"],
    }


@pytest.mark.parametrize("azure", [False, True], ids=["openai", "azure"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_requests_are_what_the_sdk_sends(llm, azure, stream):
    sdk, as_built, clients = _models(llm, azure)

    async def ask(model):
        llm.script(ToolCall("Python_REPL", {"python_code": "1 + 1"}), Text("two"))
        bound = model.bind_tools([TOOL], parallel_tool_calls=False).bind(stop=["\n\n\n"])
        if stream:
            chunks = [chunk async for chunk in bound.astream(HISTORY)]
            first = chunks[0]
            for chunk in chunks[1:]:
                first += chunk
            return first
        return await bound.ainvoke(HISTORY)

    async def ask_both():
        answers, sent = [], []
        for model in (sdk, as_built):
            llm.reset()
            answers.append(await ask(model))
            sent.append(_sent(llm))
        for client in clients:
            await client.aclose()
        return answers, sent

    # One event loop for both: the clients keep their connections open.
    answers, sent = run_async(ask_both())

    assert sent[0] == sent[1]
    assert answers[0].tool_calls[0]["args"] == {"python_code": "1 + 1"}
    assert _without_ids(answers[0]) == _without_ids(answers[1])


def _without_ids(message) -> dict:
    """The message as data, without the ids the scripted model makes up for each reply."""
    fields = message.model_dump(exclude={"id"})
    for key in ("tool_calls", "tool_call_chunks"):
        fields[key] = [{**call, "id": None} for call in fields.get(key, [])]
    for call in fields["additional_kwargs"].get("tool_calls", []):
        call["id"] = None
    return fields


@pytest.mark.parametrize(
    "settings",
    [
        {"openai_api_key": "k", "openai_base_url": "http://127.0.0.1:9/v1"},
        {"azure_openai_endpoint": "http://127.0.0.1:9", "azure_openai_api_key": "k"},
    ],
    ids=["openai", "azure"],
)
def test_the_service_models_send_as_built(settings):
    model = build_chat_model(Settings(_env_file=None, **settings))

    assert isinstance(model.async_client, AsBuiltCompletions)
