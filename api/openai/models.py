"""The models of the OpenAI-compatible API: one per published runnable."""

import time

from fastapi import APIRouter

from api.deps import CurrentUser
from api.openai.errors import OpenAIError

# The routing chain (/chat), which keeps each conversation's history on the service.
CODE_INTERPRETER = "code-interpreter"
# The agent (/agent), which runs every turn on the messages the client sends.
CODE_AGENT = "code-agent"
MODELS = (CODE_INTERPRETER, CODE_AGENT)
OWNER = "code-interpreter-agent"
CREATED = int(time.time())

router = APIRouter(tags=["openai"])


def model_named(name: str) -> str:
    if name not in MODELS:
        known = ", ".join(MODELS)
        raise OpenAIError(
            f"The model '{name}' does not exist; this service offers {known}.",
            param="model",
            code="model_not_found",
            status=404,
        )
    return name


def _model(name: str) -> dict:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": OWNER}


@router.get("/models")
async def list_models(_user: CurrentUser) -> dict:
    """The models this service answers as (OpenAI's `GET /v1/models`)."""
    return {"object": "list", "data": [_model(name) for name in MODELS]}


@router.get("/models/{model}")
async def retrieve_model(model: str, _user: CurrentUser) -> dict:
    return _model(model_named(model))
