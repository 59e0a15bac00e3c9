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


@pytest.mark.parametrize(
    ("page", "asset"),
    [
        ("/docs", "/docs/assets/swagger-ui-bundle.js"),
        ("/redoc", "/redoc/assets/redoc.standalone.js"),
    ],
)
def test_the_docs_load_the_services_own_copies(azure_service, page, asset):
    with azure_service.http() as http:
        html = http.get(page)
        script = http.get(asset)

    assert html.status_code == 200 and asset in html.text
    assert "cdn." not in html.text and "fonts.googleapis" not in html.text
    policy = html.headers["content-security-policy"]
    assert (
        "https:" not in policy
        and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


def test_info_names_the_model_and_the_limits(azure_service):
    with azure_service.http() as http:
        info = http.get("/info").json()

    assert info == {
        "model": {"kind": "azure", "name": "scripted-deployment (Azure OpenAI)"},
        "max_message_chars": 8000,
        "max_upload_bytes": 16 * 1024 * 1024,
        "sign_in": False,
    }


def test_the_playground_page_gets_the_answer_view(azure_service):
    with azure_service.http() as http:
        page = http.get("/agent/playground/")
        schema = http.get("/agent/input_schema").json()

    assert '<script type="module" src="/ui/playground.js"></script></head>' in page.text
    assert int(page.headers["content-length"]) == len(page.content)
    # LangServe's chat widget (read by the playground under "extra") is on the messages.
    assert schema["properties"]["messages"]["extra"]["widget"] == {
        "type": "chat",
        "input": "messages",
    }


def test_docs_health_and_ui(azure_service):
    with azure_service.http() as http:
        assert http.get("/docs").status_code == 200
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json() == {"model": "azure", "session_pool": "ok"}
        ui = http.get("/ui/")
    assert ui.status_code == 200 and "<html" in ui.text.lower()
