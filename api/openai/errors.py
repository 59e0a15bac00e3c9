"""Errors of the OpenAI-compatible API, answered with OpenAI's error body:
`{"error": {"message", "type", "param", "code"}}`.

The routes raise `OpenAIError` where the parameter at fault is known. Every other error under
/v1 (authentication, limits, an oversized body, a validation error, an unknown route, an
unexpected failure) comes out of the service as `{"detail": ...}`; `OpenAIErrorBodies`
rewrites those at the edge, so an OpenAI client reads every error the same way.
"""

import json
import logging

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from errors import ServiceError

log = logging.getLogger(__name__)
PREFIX = "/v1"
# What OpenAI's API calls each kind of failure (the SDKs pick their exception by status).
ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("requests", "rate_limit_exceeded"),
}


class OpenAIError(ServiceError):
    """A client error that names the parameter at fault, as OpenAI's API does."""

    def __init__(
        self, message: str, param: str | None = None, code: str | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.status_code = status
        self.param = param
        self.code = code


def error_body(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> dict:
    kind, default_code = ERROR_KINDS.get(status, ("server_error", None))
    if status < 500 and status not in ERROR_KINDS:
        kind = "invalid_request_error"
    return {
        "error": {"message": message, "type": kind, "param": param, "code": code or default_code}
    }


class OpenAIErrorBodies:
    """ASGI middleware for the /v1 routes: any `{"detail": ...}` error becomes OpenAI's
    error body (a validation error a 400 naming its parameter), and an unexpected exception
    a 500 with that body, before the answer has started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _under_prefix(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        started = False

        async def rewriting_send(message: Message) -> None:
            nonlocal start, started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] >= 400 and _is_json(message):
                    start = message  # hold it until the whole error body is here
                    return
            elif start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                status, body = _rewritten(scope, start["status"], b"".join(chunks))
                headers = MutableHeaders(raw=list(start["headers"]))
                headers["content-length"] = str(len(body))
                await send({**start, "status": status, "headers": headers.raw})
                message = {"type": "http.response.body", "body": body}
            await send(message)

        try:
            await self.app(scope, receive, rewriting_send)
        except Exception:
            if started:
                raise
            log.exception("%s %s failed", scope["method"], scope["path"])
            body = json.dumps(error_body(500, "internal error; see the service log")).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})


def _under_prefix(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _is_json(start: Message) -> bool:
    content_type = dict(start["headers"]).get(b"content-type", b"")
    return content_type.startswith(b"application/json")


def _rewritten(scope: Scope, status: int, body: bytes) -> tuple[int, bytes]:
    try:
        payload = json.loads(body)
    except ValueError:
        payload = {}
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return status, body  # already OpenAI's shape
    detail = payload.get("detail") if isinstance(payload, dict) else None
    message, param, code = _described(detail)
    if status in (404, 405) and detail in ("Not Found", "Method Not Allowed"):
        message = f"Unknown request URL: {scope['method']} {scope['path']}."
    if status == 422:
        status = 400  # OpenAI answers 400 for every malformed request
    # ensure_ascii: the detail may echo input that UTF-8 cannot encode (a lone surrogate).
    return status, json.dumps(error_body(status, message, param, code), ensure_ascii=True).encode()


def _described(detail: object) -> tuple[str, str | None, str | None]:
    """Message, parameter and code of a `detail`: a string, or FastAPI's validation list."""
    if isinstance(detail, str):
        return detail, None, None
    if isinstance(detail, list) and detail and all(isinstance(e, dict) for e in detail):
        # An unknown parameter first, as OpenAI reports it before any value it dislikes.
        first = min(detail, key=lambda error: error.get("type") != "extra_forbidden")
        param = _param_of(first.get("loc") or [])
        if first.get("type") == "extra_forbidden":
            return f"Unrecognized request argument supplied: {param}", None, None
        if not param:
            return "The body of the request must be a JSON object.", None, None
        return f"Invalid value for '{param}': {first.get('msg', 'invalid')}", param, None
    return "the request failed", None, None


def _param_of(loc: list) -> str:
    """FastAPI's location ["body", "messages", 0, "content"] as OpenAI writes it:
    "messages[0].content"."""
    param = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "header", "path") else loc:
        param += f"[{part}]" if isinstance(part, int) else f".{part}" if param else str(part)
    return param
