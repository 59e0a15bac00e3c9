"""Security headers on every response, and CORS from CORS_ALLOW_ORIGINS."""

from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The chat page loads its scripts and styles from files: no inline code is allowed.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# LangServe's playground puts its schemas in an inline script and its styles inline, and its
# form validator compiles the input schema with `new Function` (eval).
PLAYGROUND_CSP = PAGE_CSP.replace(
    "script-src 'self'; style-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'",
)
# /docs and /redoc load vendored Swagger UI and ReDoc, which style elements inline and search in
# a worker; Swagger UI's one inline start-up script is allowed by its hash (pages.py).
DOCS_CSP = PAGE_CSP.replace(
    "style-src 'self'; img-src 'self' data: blob:",
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; worker-src 'self' blob:",
)
_FIXED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def csp_for(path: str) -> str:
    """The Content-Security-Policy for a path: strict unless a known page needs inline code."""
    if "playground" in path.split("/"):
        return PLAYGROUND_CSP
    if path.startswith(("/docs", "/redoc")):
        return DOCS_CSP
    return PAGE_CSP


class SecurityHeadersMiddleware:
    """Adds the headers a browser needs to protect the page; a route's own values win."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.fixed = dict(_FIXED_HEADERS)
        if hsts:
            self.fixed["strict-transport-security"] = "max-age=31536000; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = csp_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in {**self.fixed, "content-security-policy": policy}.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def check_origins(origins: list[str]) -> list[str]:
    """Origins exactly as browsers send them (scheme://host[:port]); '*' means any, no cookies."""
    for origin in origins:
        if origin == "*":
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            raise ValueError(f"CORS_ALLOW_ORIGINS: {origin!r} is not scheme://host[:port]")
    return origins


def add_cors(app: FastAPI, origins: list[str]) -> None:
    """Allow other pages to call the API; credentials are headers, so cookies are never allowed."""
    if not check_origins(origins):
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        # The conversation of /v1 and the session and protocol of /mcp travel in headers.
        allow_headers=[
            "Authorization",
            "X-API-Key",
            "Content-Type",
            "X-Conversation-Id",
            "Mcp-Session-Id",
            "Mcp-Protocol-Version",
            "Last-Event-ID",
        ],
        expose_headers=["Retry-After", "X-Conversation-Id", "Mcp-Session-Id"],
        max_age=600,
    )
