"""One turn by GET, as in the original sample, and the service's health."""

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from langchain_core.runnables import RunnableConfig
from pydantic import ValidationError

from api.deps import AppServices, CurrentUser, RunSlot
from chains import chat_input_model
from errors import BadRequest

router = APIRouter()


@router.get("/chat", tags=["chat"], dependencies=[RunSlot])
async def chat_get(
    user: CurrentUser,
    svc: AppServices,
    message: str = Query(description="The user's message."),
    conversation_id: str | None = Query(default=None),
) -> dict:
    """One turn, as in the original sample: {"output", "route", "conversation_id"}."""
    try:
        checked = chat_input_model(svc.settings.max_message_chars)(message=message)
    except ValidationError as error:
        raise BadRequest(f"invalid message: {error.errors()[0]['msg']}") from None
    conversation = await svc.conversations.claim(user, conversation_id)
    config: RunnableConfig = {"configurable": conversation.configurable()}
    result = await svc.chat.ainvoke(checked.model_dump(), config)
    return {key: result[key] for key in ("output", "route", "conversation_id")}


@router.get("/healthz", tags=["health"])
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(svc: AppServices) -> JSONResponse:
    pool_ok = await svc.pool_client.healthy()
    body = {"model": svc.model_kind, "session_pool": "ok" if pool_ok else "unreachable"}
    return JSONResponse(body, status_code=200 if pool_ok else 503)
