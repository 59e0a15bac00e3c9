"""The OpenAI-compatible API under /v1: models and chat completions, for OpenAI's SDKs and
the chat front-ends that speak its protocol (Open WebUI, LibreChat)."""

import json

from fastapi import APIRouter, FastAPI, Request, Response

from api.openai import chat_completions, models, responses
from api.openai.errors import PREFIX, OpenAIError, OpenAIErrorBodies, error_body

router = APIRouter(prefix=PREFIX)
router.include_router(models.router)
router.include_router(chat_completions.router)
router.include_router(responses.router)


def install_openai_api(app: FastAPI) -> None:
    """The /v1 routes, with every error answered in OpenAI's error body."""
    app.include_router(router)
    app.add_exception_handler(OpenAIError, _openai_error)  # type: ignore[arg-type]
    # Outermost of the app's middleware: it also sees the body limit's and the guards' errors.
    app.add_middleware(OpenAIErrorBodies)


async def _openai_error(_request: Request, error: OpenAIError) -> Response:
    body = error_body(error.status_code, error.message, error.param, error.code)
    # ASCII escapes: a message may quote input UTF-8 cannot encode (a lone surrogate).
    text = json.dumps(body, ensure_ascii=True)
    return Response(text, status_code=error.status_code, media_type="application/json")
