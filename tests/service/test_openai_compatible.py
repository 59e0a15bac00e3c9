"""ChatOpenAI against an OpenAI-compatible server (scripted), with the real pool."""

import pytest

from tests.service.conftest import pool_env, run_service
from tests.service.helpers import config, new_id


@pytest.fixture(scope="module")
def openai_service(scripted_llm, session_pool, tmp_path_factory):
    env = {
        "OPENAI_BASE_URL": scripted_llm.openai_base_url,
        "OPENAI_API_KEY": "scripted-openai-key",
        "OPENAI_MODEL": "scripted-model",
        **pool_env(session_pool),
    }
    with run_service(env, tmp_path_factory.mktemp("openai-data")) as service:
        yield service


def test_python_route_through_an_openai_compatible_server(openai_service, llm):
    conversation = new_id()
    chat = openai_service.remote("/chat")
    first = chat.invoke({"message": "What is 25 * 847?"}, config(conversation))
    chunks = list(chat.stream({"message": "What's the square root of that?"}, config(conversation)))

    assert first["output"] == "The result is 21175."
    answer = "".join(c.get("output", "") for c in chunks)
    assert answer.startswith("The result is 145.51")
    request = llm.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer scripted-openai-key"
    assert request["body"]["model"] == "scripted-model"


def test_readyz_reports_the_model_and_the_pool(openai_service, llm):
    with openai_service.http() as http:
        ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"model": "openai", "session_pool": "ok"}
