"""A recording reverse proxy in front of the session pool: every call the service makes to
the pool, and the TCP connection it came on."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import free_port

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class PoolCall:
    method: str
    route: str  # the path after the endpoint: "code/execute", "files", "session", ...
    identifier: str | None
    connection: tuple[str, int]  # the client's address and port: one per TCP connection


@dataclass
class RecordingProxy:
    url: str
    calls: list[PoolCall] = field(default_factory=list)

    def routes(self) -> list[tuple[str, str]]:
        return [(call.method, call.route) for call in self.calls]


@contextmanager
def recording_proxy(pool_endpoint: str) -> Iterator[RecordingProxy]:
    """Forward everything to `pool_endpoint` and record each call."""
    port = free_port()
    proxy = RecordingProxy(f"http://127.0.0.1:{port}")
    upstream = pool_endpoint.rstrip("/")

    async def forward(request: Request) -> Response:
        client = request.client
        proxy.calls.append(
            PoolCall(
                request.method,
                request.url.path.lstrip("/"),
                request.query_params.get("identifier"),
                (client.host, client.port) if client else ("?", 0),
            )
        )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with httpx.AsyncClient(timeout=300) as http:
            answer = await http.request(
                request.method,
                f"{upstream}{request.url.path}",
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        return Response(answer.content, answer.status_code, headers=kept)

    app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "DELETE"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield proxy
    finally:
        server.should_exit = True
        thread.join(10)
