"""The MCP server at /mcp (Streamable HTTP, the official `mcp` SDK): the code session, its
files and the agent as tools, for editors and assistants (VS Code, Claude Desktop).

Callers authenticate as on every other route (API key, Entra ID token, or the anonymous
loopback caller when authentication is off), each HTTP request counts against their rate
limit, and an MCP session belongs to the caller who opened it. With Entra ID on, a refusal
tells the client where to sign in (api/mcp/discovery.py).
"""

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.mcp.discovery import ResourceMetadata
from api.mcp.tools import INSTRUCTIONS, add_tools

PATH = "/mcp"
LOOPBACK = TransportSecuritySettings(
    allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)
_UNCHECKED = TransportSecuritySettings(enable_dns_rebinding_protection=False)


def install_mcp(
    app: FastAPI, max_body_bytes: int, stateless: bool = False
) -> StreamableHTTPSessionManager:
    """Serve the MCP server at /mcp; the caller runs the returned manager in the lifespan.

    `stateless` (several worker processes): no MCP session outlives its request, so a
    handshake client's next request may reach any worker (an MCP session held in one worker
    would be unknown to the others)."""
    server = _quietly(lambda: MCPServer("code-interpreter", instructions=INSTRUCTIONS))
    add_tools(server)
    guards = app.state.guards
    # Anonymous callers are only those on this host: a web page that rebinds its DNS name to
    # 127.0.0.1 must not pass for one, so the Host and Origin headers are checked then.
    anonymous = not guards.authenticate.methods
    server.streamable_http_app(
        streamable_http_path=PATH,
        max_request_body_size=max_body_bytes,
        transport_security=LOOPBACK if anonymous else _UNCHECKED,
        stateless_http=stateless,
    )
    discovery = None
    if "entra" in guards.authenticate.methods:
        services = app.state.services
        discovery = ResourceMetadata(services.settings, services.links, PATH)
        app.router.routes.append(discovery.route())
    endpoint = Authenticated(StreamableHTTPASGIApp(server.session_manager), guards.user, discovery)
    app.router.routes.append(Route(PATH, endpoint, methods=["GET", "POST", "DELETE"]))
    return server.session_manager


def _quietly(build: Callable[[], MCPServer]) -> MCPServer:
    """`build()` with the root logger left as it was: MCPServer() calls logging.basicConfig,
    which would give the whole service a console handler at INFO (outside the log redaction
    of security/logs.py, and printing every HTTP call the service makes)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return build()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


class Authenticated:
    """Lets a request through once `authenticate` names its user, which the MCP SDK then
    reads as the principal that owns (and alone may use) the MCP session it opens."""

    def __init__(
        self,
        app: ASGIApp,
        authenticate: Callable[[Request], Awaitable[str]],
        discovery: ResourceMetadata | None = None,
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.discovery = discovery

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            user = await self.authenticate(request)
        except HTTPException as error:
            headers = dict(error.headers or {})
            challenge = headers.get("WWW-Authenticate")
            if challenge and self.discovery is not None:
                headers["WWW-Authenticate"] = self.discovery.challenge(request, challenge)
            refusal = JSONResponse({"detail": error.detail}, error.status_code, headers)
            await refusal(scope, receive, send)
            return
        token = AccessToken(token="", client_id=user, scopes=[], subject=user)
        scope["user"] = AuthenticatedUser(token)
        await self.app(scope, receive, send)
