"""The service: FastAPI with LangServe routes for the routing chain and the code agent.

This is the only module that imports LangServe (deprecated upstream), so replacing it later
touches this file alone.
"""

import json
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import openai
from fastapi import Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from langchain_core.messages import AnyMessage, convert_to_messages
from langserve import add_routes
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import api
from chains import ChatOutput, chat_input_model, encodable, with_conversation
from errors import BadRequest, ServiceError
from llms import model_error
from security.auth import Unauthorized
from security.guards import build_guards, install_security_middleware, run_slot
from security.signin import SignedInOnly, install_signin, unauthorized_response
from settings import Settings
from tools.sessions import conversation_configurable
from wiring import Services, build_services

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent / "web"
# Uploads may exceed MAX_REQUEST_BYTES up to MAX_UPLOAD_BYTES, plus room for the multipart framing.
UPLOAD_PATH = r"/conversations/[^/]+/files$"
MULTIPART_OVERHEAD = 64 * 1024


class AgentInput(BaseModel):
    """The agent's state: the conversation so far, ending with the user's message."""

    messages: list[AnyMessage] = Field(
        json_schema_extra={"widget": {"type": "chat", "input": "messages"}}
    )

    @field_validator("messages", mode="before")
    @classmethod
    def _accept_openai_style(cls, value):
        # {"role": "user", "content": ...} as well as LangChain's {"type": "human", ...}.
        try:
            return convert_to_messages(encodable(value))
        except (TypeError, ValueError, NotImplementedError) as error:
            raise ValueError(f"messages must be chat messages: {error}") from None


class AgentOutput(BaseModel):
    messages: list[AnyMessage]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app: parts built here, the pool and the store opened in the lifespan."""
    settings = settings or Settings()
    guards = build_guards(settings)  # fails the start when AUTH_MODE lacks its credentials
    _configure_telemetry(settings)
    svc = build_services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    app = FastAPI(title="Code-interpreter agent", lifespan=lifespan)
    app.state.services = svc
    app.state.guards = guards
    install_security_middleware(
        app,
        settings,
        body_limit_overrides={UPLOAD_PATH: settings.max_upload_bytes + MULTIPART_OVERHEAD},
        secrets=_secret_values(settings),
    )
    _add_error_handlers(app, settings)
    app.add_middleware(EndStartedResponses)
    _add_runnables(app, svc)
    _add_plain_routes(app)
    app.include_router(api.router)
    install_signin(app, WEB_DIR / "signin")
    page = StaticFiles(directory=WEB_DIR, html=True, check_dir=False)
    app.mount("/ui", SignedInOnly(page, guards.authenticate), name="ui")
    return app


def _secret_values(settings: Settings) -> list[str]:
    """Every secret setting's value, so that none of them ever reaches a log line."""
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


def _configure_telemetry(settings: Settings) -> None:
    from telemetry import configure_telemetry

    configure_telemetry(settings)


async def conversation_config(config: dict, request: Request) -> dict:
    """LangServe's per-request hook: the caller and conversation decide the code session."""
    configurable = dict(config.get("configurable") or {})
    svc, user = request.app.state.services, request.state.user
    ids = await _claimed(svc, user, configurable.get("conversation_id") or None)
    return {**config, "configurable": {**configurable, **ids}}


async def _claimed(svc: Services, user: str, conversation_id: str | None) -> dict:
    """The run's `configurable` ids, once the conversation is known to be the caller's."""
    ids = conversation_configurable(user, conversation_id)
    await api.owned_session(svc, user, ids["conversation_id"], claim=True)
    return ids


def _add_runnables(app: FastAPI, svc: Services) -> None:
    chat_input = chat_input_model(svc.settings.max_message_chars)
    published = {
        "/chat": with_conversation(svc.chat).with_types(
            input_type=chat_input, output_type=ChatOutput
        ),
        "/agent": with_conversation(svc.agent).with_types(
            input_type=AgentInput, output_type=AgentOutput
        ),
    }
    for path, runnable in published.items():
        add_routes(
            app,
            runnable,
            path=path,
            # Authenticates the caller and holds one of their run slots until the answer is sent.
            dependencies=[Depends(run_slot)],
            per_req_config_modifier=conversation_config,
        )


def _add_plain_routes(app: FastAPI) -> None:
    @app.get("/chat", tags=["chat"], dependencies=[Depends(run_slot)])
    async def chat_get(
        user: api.CurrentUser,
        svc: api.AppServices,
        message: str = Query(description="The user's message."),
        conversation_id: str | None = Query(default=None),
    ) -> dict:
        """One turn, as in the original sample: {"output", "route", "conversation_id"}."""
        try:
            checked = chat_input_model(svc.settings.max_message_chars)(message=message)
        except ValidationError as error:
            raise BadRequest(f"invalid message: {error.errors()[0]['msg']}") from None
        config = {"configurable": await _claimed(svc, user, conversation_id)}
        result = await svc.chat.ainvoke({"message": checked.message}, config)
        return {key: result[key] for key in ("output", "route", "conversation_id")}

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(svc: api.AppServices) -> JSONResponse:
        pool_ok = await svc.pool_client.healthy()
        body = {"model": svc.model_kind, "session_pool": "ok" if pool_ok else "unreachable"}
        return JSONResponse(body, status_code=200 if pool_ok else 503)


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
        state = {"started": False, "ended": False}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                state["ended"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if not state["started"]:
                raise
            cause = error.__cause__ or error  # Starlette wraps it: "response already started"
            if isinstance(cause, ServiceError):
                log.warning("%s %s ended early: %s", scope["method"], scope["path"], cause)
            else:
                log.exception("%s %s failed after it started", scope["method"], scope["path"])
            if not state["ended"]:
                await send({"type": "http.response.body", "body": b"", "more_body": False})


def _add_error_handlers(app: FastAPI, settings: Settings) -> None:
    """Every error is mapped here, once; clients get a message, never a stack trace."""

    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, error: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": error.message}, status_code=error.status_code)

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, error: Unauthorized) -> Response:
        return unauthorized_response(request, error)

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

    @app.exception_handler(openai.APIError)
    async def model_failure(_request: Request, error: openai.APIError) -> JSONResponse:
        mapped = model_error(error, settings.llm_max_retries)
        return JSONResponse({"detail": mapped.message}, status_code=mapped.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return JSONResponse({"detail": "internal error; see the service log"}, status_code=500)


app = create_app()
