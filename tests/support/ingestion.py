"""A stand-in for Application Insights' ingestion endpoint on 127.0.0.1, recording what arrives.

The Azure Monitor exporter POSTs gzip-compressed JSON envelopes (one per line, or a JSON
array) to `<IngestionEndpoint>/v2.1/track`. Name this server in a connection string and the
real exporter sends it exactly what Application Insights would receive.
"""

import gzip
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ZERO_KEY = "00000000-0000-0000-0000-000000000000"


class IngestionServer:
    """`envelopes` holds every telemetry item received, in order of arrival."""

    def __init__(self) -> None:
        self.envelopes: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={ZERO_KEY};IngestionEndpoint={self.url};LiveEndpoint={self.url}"

    def __enter__(self) -> "IngestionServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self, kind: str) -> list[dict]:
        """The items of one kind: Request, RemoteDependency, Message, Exception, Metric, ..."""
        with self._lock:
            return [e for e in self.envelopes if e["name"].endswith(f".{kind}")]

    def wait_for(self, found: Callable[["IngestionServer"], bool], timeout: float = 60) -> bool:
        """Poll until `found(self)` holds (the exporter sends in batches, every few seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found(self):
                return True
            time.sleep(0.2)
        return found(self)

    def _record(self, body: bytes) -> int:
        text = body.decode()
        stripped = text.strip()
        if stripped.startswith("["):
            items = json.loads(stripped)
        else:
            items = [json.loads(line) for line in stripped.splitlines() if line.strip()]
        with self._lock:
            self.envelopes.extend(items)
        return len(items)


def _handler_for(server: IngestionServer) -> type[BaseHTTPRequestHandler]:
    class Ingestion(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            count = server._record(body) if self.path.endswith("/track") else 0
            reply = json.dumps({"itemsReceived": count, "itemsAccepted": count, "errors": []})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply.encode())

        def log_message(self, *args: object) -> None:
            pass

    return Ingestion
