"""What a browser opens: the playgrounds, the schemas they are built from, /docs and /ui."""

import pytest


@pytest.mark.parametrize("path", ["/chat", "/agent"])
def test_playground_and_schemas_are_served(azure_service, path):
    with azure_service.http() as http:
        playground = http.get(f"{path}/playground/")
        config_schema = http.get(f"{path}/config_schema").json()
        input_schema = http.get(f"{path}/input_schema").json()

    assert playground.status_code == 200 and "<html" in playground.text.lower()
    configurable = config_schema["properties"]["configurable"]
    fields = config_schema.get("$defs", config_schema.get("definitions", {}))
    text = str(configurable) + str(fields)
    assert "conversation_id" in text
    assert input_schema["type"] == "object"


def test_chat_schemas_describe_message_in_and_answer_out(azure_service):
    with azure_service.http() as http:
        input_schema = http.get("/chat/input_schema").json()
        output_schema = http.get("/chat/output_schema").json()

    assert input_schema["required"] == ["message"]
    assert input_schema["properties"]["message"]["maxLength"] == 8000
    assert {"output", "route", "conversation_id", "steps"} <= set(output_schema["properties"])


def test_docs_health_and_ui(azure_service):
    with azure_service.http() as http:
        assert http.get("/docs").status_code == 200
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json() == {"model": "azure", "session_pool": "ok"}
        ui = http.get("/ui/")
    assert ui.status_code == 200 and "<html" in ui.text.lower()
