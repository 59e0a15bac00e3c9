"""Telemetry goes to Application Insights only when its connection string is set.

Each case runs in a fresh interpreter: OpenTelemetry's providers are process-global.
The "Application Insights" is a capturing HTTP server on 127.0.0.1 named in the connection string.
"""

import json
import os
import subprocess
import sys

from tests.infra.helpers import ROOT

UNSET = """
import json, sys
from opentelemetry import trace
from settings import Settings
from telemetry import configure_telemetry
configure_telemetry(Settings(_env_file=None))
print(json.dumps({
    "provider": type(trace.get_tracer_provider()).__name__,
    "distro_loaded": "azure.monitor.opentelemetry" in sys.modules,
}))
"""

SET = """
import gzip, json, logging, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = []

class Ingestion(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        received.append({"path": self.path, "body": body.decode(errors="replace")})
        items = body.count(b"\\n") + 1
        reply = json.dumps({"itemsReceived": items, "itemsAccepted": items, "errors": []})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Ingestion)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_port}/"

from settings import Settings
from telemetry import configure_telemetry
configure_telemetry(Settings(
    _env_file=None,
    applicationinsights_connection_string=(
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        f"IngestionEndpoint={url};LiveEndpoint={url}"
    ),
))

from opentelemetry import _logs, metrics, trace
with trace.get_tracer("probe").start_as_current_span("probe-span"):
    logging.getLogger("probe").warning("probe-log-line")
metrics.get_meter("probe").create_counter("probe_counter").add(1)
trace.get_tracer_provider().force_flush()
_logs.get_logger_provider().force_flush()
metrics.get_meter_provider().force_flush()
print(json.dumps(received))
"""


def _run(script: str, tmp_path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS", "OTEL"))}
    env.update(
        PYTHONPATH=str(ROOT),
        TMPDIR=str(tmp_path),
        # Keep the exporter on loopback: no statsbeat to Microsoft, no Azure VM metadata probe.
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
        OTEL_EXPERIMENTAL_RESOURCE_DETECTORS="otel",
    )
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


def test_with_connection_string_traces_logs_and_metrics_are_exported(tmp_path):
    posts = json.loads(_run(SET, tmp_path))
    track = "\n".join(p["body"] for p in posts if p["path"].endswith("/track"))
    assert "probe-span" in track, posts
    assert "probe-log-line" in track, posts
    assert "probe_counter" in track, posts
