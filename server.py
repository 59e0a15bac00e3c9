"""The service: `create_app` assembles FastAPI, the LangServe routes and their hook.

This is the only module that imports LangServe (deprecated upstream), so replacing it later
touches this file alone. The plain routes are in the `api` package.
"""

from contextlib import asynccontextmanager
from typing import Any, cast

from fastapi import Depends, FastAPI, Request
from langchain_core.runnables import (
    ConfigurableFieldSpec,
    Runnable,
    RunnableBinding,
    RunnableConfig,
)
from langserve import add_routes
from langserve.callbacks import AsyncEventAggregatorCallback
from pydantic import SecretStr

import api
from agents.schemas import AgentInput, AgentOutput
from api.mcp import install_mcp
from api.openai import install_openai_api
from chains import ChatOutput, chat_input_model
from errors import install_error_handlers
from llms import install_model_error_handler
from pages import install_pages
from security.guards import build_guards, install_security_middleware, run_slot
from security.langserve_input import check_langserve_body
from settings import Settings
from telemetry import install_telemetry
from wiring import build_services

# Uploads may exceed MAX_REQUEST_BYTES up to MAX_UPLOAD_BYTES, plus room for the multipart framing.
UPLOAD_PATH = r"/conversations/[^/]+/files$"
MULTIPART_OVERHEAD = 64 * 1024
# MCP's upload_file, and /v1's file content parts, carry a file as base64 in a JSON body.
MCP_PATH = r"/mcp$"
OPENAI_TURN_PATH = r"/v1/(chat/completions|responses)$"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app: parts built here, the pool and the store opened in the lifespan."""
    settings = settings or Settings()
    guards = build_guards(settings)  # fails the start when AUTH_MODE lacks its credentials
    svc = build_services(settings)
    json_upload_bytes = settings.max_upload_bytes * 4 // 3 + MULTIPART_OVERHEAD

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await svc.start()
        try:
            await guards.authenticate.sessions.keep_key(svc.files.storage)
            async with mcp_sessions.run():
                yield
        finally:
            await svc.stop()

    # /docs and /redoc come from pages.py, with vendored assets instead of a CDN's.
    app = FastAPI(title="Code-interpreter agent", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = svc
    app.state.guards = guards
    install_telemetry(app, settings)
    install_security_middleware(
        app,
        settings,
        body_limit_overrides={
            UPLOAD_PATH: settings.max_upload_bytes + MULTIPART_OVERHEAD,
            MCP_PATH: json_upload_bytes,
            OPENAI_TURN_PATH: json_upload_bytes,
        },
        secrets=_secret_values(settings),
    )
    install_error_handlers(app)
    install_model_error_handler(app, settings.llm_max_retries)
    chat_input = chat_input_model(settings.max_message_chars)
    _publish(app, "/chat", svc.chat.with_types(input_type=chat_input, output_type=ChatOutput))
    _publish(app, "/agent", svc.agent.with_types(input_type=AgentInput, output_type=AgentOutput))
    app.include_router(api.router)
    install_pages(app)
    install_openai_api(app)
    several_workers = (settings.workers or 1) > 1
    mcp_sessions = install_mcp(app, json_upload_bytes, stateless=several_workers)
    return app


def _publish(app: FastAPI, path: str, runnable: Runnable) -> None:
    add_routes(
        app,
        WithConversationId(bound=runnable),
        path=path,
        # Authenticates the caller and holds one of their run slots until the answer is sent;
        # then answers 422 for a body LangServe itself would fail on.
        dependencies=[Depends(run_slot), Depends(check_langserve_body)],
        per_req_config_modifier=claim_conversation,
    )


async def claim_conversation(config: dict, request: Request) -> dict:
    """LangServe's per-request hook: the run gets the caller's conversation (a new one when
    the client names none); another user's id is a 404."""
    configurable = dict(config.get("configurable") or {})
    conversations = request.app.state.services.conversations
    conversation = await conversations.claim(
        request.state.user, configurable.get("conversation_id") or None
    )
    return {**config, "configurable": {**configurable, **conversation.configurable()}}


CONVERSATION_ID_SPEC = ConfigurableFieldSpec(
    id="conversation_id",
    annotation=str,
    name="Conversation id",
    description="1-64 characters of A-Z a-z 0-9 _ -; omit it to start a new conversation.",
    default="",
    is_shared=True,
)


class WithConversationId(RunnableBinding):
    """The runnable, with `conversation_id` declared among its configurable fields: LangServe
    passes on only declared keys, and shows them in the playground and the config schema.

    LangServe's /invoke and /batch also add a handler that records every callback event of
    the run, which it returns only with `include_callback_events` (off here): it is left out,
    since a handler makes LangChain schedule a task per event, each streamed token included
    (~0.7 ms of CPU per direct turn).
    """

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [*self.bound.config_specs, CONVERSATION_ID_SPEC]

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any):
        return await super().ainvoke(input, _without_event_log(config), **kwargs)

    async def abatch(self, inputs: list, config: Any = None, **kwargs: Any) -> list:
        configs = config if isinstance(config, list) else [config] * len(inputs)
        return await super().abatch(inputs, [_without_event_log(c) for c in configs], **kwargs)


def _without_event_log(config: RunnableConfig | None) -> RunnableConfig:
    """`config` without LangServe's event recorder (its list of handlers copied, not changed)."""
    if config is None or not isinstance(config.get("callbacks"), list):
        return config or {}
    callbacks = cast(list, config["callbacks"])
    kept = [h for h in callbacks if not isinstance(h, AsyncEventAggregatorCallback)]
    return {**config, "callbacks": kept}


def _secret_values(settings: Settings) -> list[str]:
    """Every secret setting's value, so that none of them ever reaches a log line."""
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


app = create_app()
