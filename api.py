"""The plain routes beside LangServe: one turn by GET, health, and the caller's conversations
with their files and interrupts."""

import contextlib
import posixpath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from chains import chat_input_model
from conversations import Conversation
from errors import BadRequest, NotFound, PayloadTooLarge
from security import guards
from wiring import Services


async def current_user(request: Request) -> str:
    """The authenticated caller (counted against their rate limit); also kept in
    `request.state.user` for LangServe's per-request hook."""
    return await guards.current_user(request)


def services(request: Request) -> Services:
    return request.app.state.services


CurrentUser = Annotated[str, Depends(current_user)]
AppServices = Annotated[Services, Depends(services)]


async def conversation_in_path(
    conversation_id: str, user: CurrentUser, svc: AppServices
) -> Conversation:
    """The caller's conversation named in the path; an id nobody has used yet is not recorded."""
    return await svc.conversations.claim(user, conversation_id, record=False)


async def claimed_in_path(
    conversation_id: str, user: CurrentUser, svc: AppServices
) -> Conversation:
    """As `conversation_in_path`, and an unused id becomes the caller's (it stores something)."""
    return await svc.conversations.claim(user, conversation_id)


PathConversation = Annotated[Conversation, Depends(conversation_in_path)]
ClaimedConversation = Annotated[Conversation, Depends(claimed_in_path)]

router = APIRouter()
conversations = APIRouter(prefix="/conversations", tags=["conversations"])


@router.get("/chat", tags=["chat"], dependencies=[Depends(guards.run_slot)])
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
    config = {"configurable": conversation.configurable()}
    result = await svc.chat.ainvoke({"message": checked.message}, config)
    return {key: result[key] for key in ("output", "route", "conversation_id")}


@router.get("/healthz", tags=["health"])
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(svc: AppServices) -> JSONResponse:
    pool_ok = await svc.pool_client.healthy()
    body = {"model": svc.model_kind, "session_pool": "ok" if pool_ok else "unreachable"}
    return JSONResponse(body, status_code=200 if pool_ok else 503)


@conversations.get("")
async def list_conversations(user: CurrentUser, svc: AppServices) -> list[dict]:
    """The caller's conversations, newest first."""
    return await svc.conversations.list_for(user)


@conversations.get("/{conversation_id}")
async def get_conversation(conversation: PathConversation, svc: AppServices) -> dict:
    """The conversation's messages, each python step with its code and results."""
    return await svc.conversations.history(conversation)


@conversations.delete("/{conversation_id}", status_code=204)
async def delete_conversation(conversation: PathConversation, svc: AppServices) -> None:
    """Forget the history, and end the code session with its variables and files."""
    with contextlib.suppress(NotFound):
        # A pool that never saw the session (or already expired it) has nothing to delete.
        await svc.pool_client.delete_session(conversation.session_id)
    await svc.conversations.forget(conversation)


@conversations.post("/{conversation_id}/interrupt", status_code=204)
async def interrupt(conversation: PathConversation, svc: AppServices) -> None:
    """Stop the code running in the conversation's session; its variables stay."""
    await svc.pool_client.interrupt(conversation.session_id)


@conversations.get("/{conversation_id}/files")
async def list_files(conversation: PathConversation, svc: AppServices) -> dict:
    return {"files": await svc.pool_client.list_files(conversation.session_id)}


@conversations.post("/{conversation_id}/files")
async def upload_file(
    conversation: ClaimedConversation, svc: AppServices, file: Annotated[UploadFile, File()]
) -> dict:
    """Put a file into /mnt/data of the conversation's session."""
    name = _file_name(file.filename or "")
    limit = svc.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the file is larger than the limit of {limit} bytes")
    entry = await svc.pool_client.upload(conversation.session_id, name, data)
    return {"name": entry["name"], "size": entry["size"]}


@conversations.get("/{conversation_id}/files/{name}")
async def download_file(name: str, conversation: PathConversation, svc: AppServices) -> Response:
    upstream = await svc.pool_client.download(conversation.session_id, _file_name(name))
    disposition = f"attachment; filename*=UTF-8''{quote(_file_name(name))}"
    return Response(
        upstream.content,
        media_type=upstream.headers.get("content-type", "application/octet-stream"),
        headers={"Content-Disposition": disposition},
    )


@conversations.delete("/{conversation_id}/files/{name}", status_code=204)
async def delete_file(name: str, conversation: PathConversation, svc: AppServices) -> None:
    """Remove a file from /mnt/data of the conversation's session."""
    await svc.pool_client.delete_file(conversation.session_id, _file_name(name))


router.include_router(conversations)


def _file_name(raw: str) -> str:
    """A plain file name in /mnt/data; clients may send it with that prefix."""
    name = posixpath.basename(raw.removeprefix("/mnt/data/"))
    if not name or name in (".", "..") or "/" in raw.removeprefix("/mnt/data/"):
        raise BadRequest("a file name must be a plain name, without directories")
    return name
