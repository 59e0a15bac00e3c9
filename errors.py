"""The service's own errors, each with the HTTP status and the message a client sees, and
the one place where every error becomes an HTTP answer."""

import json
import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error with a message fit for clients, answered with `status_code`."""

    status_code = 500

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class BadRequest(ServiceError):
    status_code = 422


class NotFound(ServiceError):
    status_code = 404


class PayloadTooLarge(ServiceError):
    status_code = 413


class NotSupported(ServiceError):
    status_code = 501


class ModelUnavailable(ServiceError):
    """The model failed after the client's bounded retries (timeout, 429, 5xx)."""

    status_code = 502


class PoolBusy(ServiceError):
    """The code session pool has no room for another session now (its 429, Retry-After kept)."""

    status_code = 429


class PoolUnavailable(ServiceError):
    """The code session pool cannot be reached or refused the call."""

    status_code = 503


class StorageUnavailable(ServiceError):
    """The storage of conversations' files (DATA_DIR or Blob Storage) failed."""

    status_code = 503


def error_response(error: ServiceError) -> JSONResponse:
    return JSONResponse(
        {"detail": error.message}, status_code=error.status_code, headers=error.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Clients get `{"detail": <message>}` for every error, never a stack trace."""

    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, error: ServiceError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> Response:
        # FastAPI's own answer, but with every character escaped: the input it echoes may
        # hold text that UTF-8 cannot encode (a lone surrogate), which the default would
        # turn into a server error.
        body = json.dumps({"detail": jsonable_encoder(error.errors())}, ensure_ascii=True)
        return Response(body, status_code=422, media_type="application/json")

    @app.exception_handler(ValidationError)
    async def invalid_input(_request: Request, error: ValidationError) -> JSONResponse:
        # LangServe validates /batch inputs outside its own 422 translation.
        detail = error.errors(include_url=False, include_context=False, include_input=False)
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return JSONResponse({"detail": "internal error; see the service log"}, status_code=500)

    app.add_middleware(EndStartedResponses)


class EndStartedResponses:
    """A failure after an answer has started ends the answer properly instead of cutting the
    connection. LangServe sends a stream's `error` event and then re-raises; the server would
    abort the connection, and a client could lose the events just sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = ended = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, ended
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                ended = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if not started:
                raise
            cause = error.__cause__ or error  # Starlette wraps it: "response already started"
            if isinstance(cause, ServiceError):
                log.warning("%s %s ended early: %s", scope["method"], scope["path"], cause)
            else:
                log.exception("%s %s failed after it started", scope["method"], scope["path"])
            if not ended:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
