"""Telemetry reaches Application Insights: each turn is one trace of its request, its model and
pool calls and its LangChain runs, with no message text unless TELEMETRY_CAPTURE_CONTENT is on.

"Application Insights" is a capturing HTTP server on 127.0.0.1 named in the connection string
(tests/support/ingestion.py); the service, the model (scripted) and the pool are real servers.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.infra.helpers import ROOT
from tests.service.conftest import azure_env, pool_env, run_service
from tests.support.ingestion import IngestionServer
from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain

# The arithmetic brain turns this into a python call; neither the words nor the answer may be
# recorded unless content capture is on.
MESSAGE = "Quokka asks: what is 4321 * 8765?"
ANSWER = str(4321 * 8765)
SECRET_WORD = "quokka"
ROUTES = ["POST /chat/invoke", "POST /chat/stream", "GET /chat"]
# Keep the exporter on loopback: no statsbeat and no dynamic configuration from Microsoft, no
# Azure VM metadata probe.
LOOPBACK_ONLY = {
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",
}


@contextmanager
def traced_service(session_pool, tmp_path_factory, **env: str) -> Iterator[tuple]:
    """The real service exporting to a local ingestion server: (service, ingestion, model)."""
    with IngestionServer() as ingestion, ScriptedLLM(arithmetic_brain) as llm:
        settings = {
            **azure_env(llm),
            **pool_env(session_pool),
            **LOOPBACK_ONLY,
            "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
            "TMPDIR": str(tmp_path_factory.mktemp("exporter-tmp")),
            **env,
        }
        with run_service(settings, tmp_path_factory.mktemp("telemetry-data")) as service:
            yield service, ingestion, llm


@pytest.fixture(scope="module")
def quiet(session_pool, tmp_path_factory):
    """The service with content capture off (the default), after a turn through each door."""
    with traced_service(session_pool, tmp_path_factory) as (service, ingestion, llm):
        with service.http() as http:
            answers = [
                http.post("/chat/invoke", json={"input": {"message": MESSAGE}}),
                http.post("/chat/stream", json={"input": {"message": MESSAGE}}),
                http.get("/chat", params={"message": MESSAGE}),
            ]
        for answer in answers:
            assert answer.status_code == 200 and ANSWER in answer.text, answer.text
        assert ingestion.wait_for(lambda i: len(turns(i, *ROUTES)) == len(ROUTES))
        yield ingestion, llm, session_pool


def requests_named(ingestion: IngestionServer, name: str) -> list[dict]:
    return [r for r in ingestion.received("Request") if r["data"]["baseData"]["name"] == name]


def in_trace(ingestion: IngestionServer, kind: str, operation_id: str) -> list[dict]:
    items = ingestion.received(kind)
    return [i for i in items if i["tags"].get("ai.operation.id") == operation_id]


def turns(ingestion: IngestionServer, *names: str) -> list[dict]:
    """The requests named, once their model call, tool run and pool call have arrived too."""
    complete = []
    for name in names:
        for request in requests_named(ingestion, name):
            trace = in_trace(ingestion, "RemoteDependency", request["tags"]["ai.operation.id"])
            if {"LLM", "TOOL", "HTTP"} <= {kind_of(d) for d in trace}:
                complete.append(request)
    return complete


def kind_of(dependency: dict) -> str:
    data = dependency["data"]["baseData"]
    return data.get("properties", {}).get("openinference.span.kind") or data.get("type", "")


def host_of(url: str) -> str:
    return url.removeprefix("http://").split("/", 1)[0]


@pytest.mark.parametrize("route", ROUTES)
def test_a_turn_is_one_trace_of_request_model_call_and_tool_call(quiet, route):
    ingestion, llm, pool = quiet
    [request] = requests_named(ingestion, route)
    assert request["data"]["baseData"]["responseCode"] == "200"
    trace = in_trace(ingestion, "RemoteDependency", request["tags"]["ai.operation.id"])
    by_kind: dict[str, list[dict]] = {}
    for dependency in trace:
        by_kind.setdefault(kind_of(dependency), []).append(dependency["data"]["baseData"])
    http_targets = {d["target"] for d in by_kind["HTTP"]}
    # The model call, seen twice: LangChain's run and its HTTP request to the model.
    assert host_of(llm.url) in http_targets
    assert any(d["name"] == "AzureChatOpenAI" for d in by_kind["LLM"])
    # The tool call: LangChain's tool run, and the code it sent to the pool.
    assert [d["name"] for d in by_kind["TOOL"]] == ["Python_REPL"]
    pool_calls = [d for d in by_kind["HTTP"] if d["target"] == host_of(pool.endpoint)]
    assert any("/code/execute" in d["data"] for d in pool_calls)
    # The agent's run and the chain around it (named by LangServe's path, or "chat"); the
    # agent's middleware that syncs the conversation's files before and after the turn is
    # named after `before_agent` and `after_agent`, which OpenInference takes for agents.
    agents = [d["name"] for d in by_kind["AGENT"]]
    assert agents.count("code_agent") == 1
    middleware = {f"SessionFilesMiddleware.{hook}" for hook in ("before_agent", "after_agent")}
    assert set(agents) <= {"code_agent", *middleware}
    assert {"chat", "/chat"} & {d["name"] for d in by_kind["CHAIN"]}


def test_no_message_text_is_recorded_by_default(quiet):
    ingestion, _, _ = quiet
    recorded = json.dumps(ingestion.envelopes).lower()
    assert SECRET_WORD not in recorded
    assert ANSWER not in recorded
    # The code the model wrote (a bare "4321" may turn up in a random id, port or duration).
    assert "4321 * 8765" not in recorded
    urls = [r["data"]["baseData"]["url"] for r in requests_named(ingestion, "GET /chat")]
    assert urls and all("?" not in url for url in urls)


def test_health_probes_are_not_recorded(quiet):
    ingestion, _, _ = quiet
    names = {r["data"]["baseData"]["name"] for r in ingestion.received("Request")}
    assert not any(name.endswith(("/healthz", "/readyz")) for name in names)


def test_content_is_recorded_when_capture_is_on(session_pool, tmp_path_factory):
    with traced_service(session_pool, tmp_path_factory, TELEMETRY_CAPTURE_CONTENT="true") as (
        service,
        ingestion,
        _,
    ):
        with service.http() as http:
            turn = http.post("/chat/invoke", json={"input": {"message": MESSAGE}})
        assert turn.status_code == 200, turn.text
        assert ingestion.wait_for(lambda i: len(turns(i, "POST /chat/invoke")) == 1)
        [request] = requests_named(ingestion, "POST /chat/invoke")
        trace = in_trace(ingestion, "RemoteDependency", request["tags"]["ai.operation.id"])
        recorded = json.dumps(trace).lower()
        assert SECRET_WORD in recorded and ANSWER in recorded


UNSET = """
import json, sys
from fastapi import FastAPI
from opentelemetry import trace
from settings import Settings
from telemetry import install_telemetry
install_telemetry(FastAPI(), Settings(_env_file=None))
print(json.dumps({
    "provider": type(trace.get_tracer_provider()).__name__,
    "distro_loaded": "azure.monitor.opentelemetry" in sys.modules,
}))
"""

LOGS_AND_METRICS = """
import json, logging, sys
from fastapi import FastAPI
from tests.support.ingestion import IngestionServer

with IngestionServer() as ingestion:
    from settings import Settings
    from telemetry import install_telemetry
    install_telemetry(FastAPI(), Settings(
        _env_file=None, applicationinsights_connection_string=ingestion.connection_string
    ))
    from opentelemetry import _logs, metrics, trace
    logging.getLogger("probe").warning("probe-log-line")
    metrics.get_meter("probe").create_counter("probe_counter").add(1)
    _logs.get_logger_provider().force_flush()
    metrics.get_meter_provider().force_flush()
    print(json.dumps(ingestion.envelopes))
"""


def _run(script: str, tmp_path) -> str:
    """Each case in a fresh interpreter: OpenTelemetry's providers are process-wide."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS", "OTEL"))}
    env.update(LOOPBACK_ONLY, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_without_connection_string_nothing_is_configured(tmp_path):
    state = json.loads(_run(UNSET, tmp_path))
    assert state == {"provider": "ProxyTracerProvider", "distro_loaded": False}


def test_log_records_and_metrics_are_exported_too(tmp_path):
    recorded = json.dumps(json.loads(_run(LOGS_AND_METRICS, tmp_path)))
    assert "probe-log-line" in recorded
    assert "probe_counter" in recorded
