"""REST routes beside LangServe: the caller's conversations, their files, and interrupts."""

import contextlib
import posixpath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from errors import BadRequest, NotFound, PayloadTooLarge
from security import guards
from tools.sessions import check_conversation_id, session_identifier
from wiring import Services


async def current_user(request: Request) -> str:
    """The authenticated caller (counted against their rate limit); also kept in
    `request.state.user` for LangServe's per-request hook."""
    return await guards.current_user(request)


def services(request: Request) -> Services:
    return request.app.state.services


CurrentUser = Annotated[str, Depends(current_user)]
AppServices = Annotated[Services, Depends(services)]
router = APIRouter(prefix="/conversations", tags=["conversations"])


async def owned_session(
    svc: Services, user: str, conversation_id: str, *, claim: bool = False
) -> str:
    """The session of the caller's conversation. Another user's id is a 404, on every route;
    with `claim`, an id nobody has used yet becomes the caller's."""
    check_conversation_id(conversation_id)
    if claim:
        mine = await run_in_threadpool(svc.store.claim, user, conversation_id)
    else:
        mine = await run_in_threadpool(svc.store.owner, conversation_id) in (None, user)
    if not mine:
        raise NotFound(f"no conversation {conversation_id}")
    return session_identifier(user, conversation_id)


@router.get("")
async def list_conversations(user: CurrentUser, svc: AppServices) -> list[dict]:
    """The caller's conversations, newest first."""
    return await run_in_threadpool(svc.store.list, user)


@router.get("/{conversation_id}")
async def get_conversation(conversation_id: str, user: CurrentUser, svc: AppServices) -> dict:
    """The conversation's messages, each python step with its code and results."""
    check_conversation_id(conversation_id)
    conversation = await run_in_threadpool(svc.store.get, user, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    return conversation


@router.delete("/{conversation_id}", status_code=204)
async def delete_conversation(conversation_id: str, user: CurrentUser, svc: AppServices) -> None:
    """Forget the history, and end the code session with its variables and files."""
    session = await owned_session(svc, user, conversation_id)
    with contextlib.suppress(NotFound):
        # A pool that never saw the session (or already expired it) has nothing to delete.
        await svc.pool_client.delete_session(session)
    await run_in_threadpool(svc.store.delete, user, conversation_id)


@router.post("/{conversation_id}/interrupt", status_code=204)
async def interrupt(conversation_id: str, user: CurrentUser, svc: AppServices) -> None:
    """Stop the code running in the conversation's session; its variables stay."""
    await svc.pool_client.interrupt(await owned_session(svc, user, conversation_id))


@router.get("/{conversation_id}/files")
async def list_files(conversation_id: str, user: CurrentUser, svc: AppServices) -> dict:
    session = await owned_session(svc, user, conversation_id)
    return {"files": await svc.pool_client.list_files(session)}


@router.post("/{conversation_id}/files")
async def upload_file(
    conversation_id: str, user: CurrentUser, svc: AppServices, file: Annotated[UploadFile, File()]
) -> dict:
    """Put a file into /mnt/data of the conversation's session."""
    session = await owned_session(svc, user, conversation_id, claim=True)
    name = _file_name(file.filename or "")
    limit = svc.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the file is larger than the limit of {limit} bytes")
    entry = await svc.pool_client.upload(session, name, data)
    return {"name": entry["name"], "size": entry["size"]}


@router.get("/{conversation_id}/files/{name}")
async def download_file(
    conversation_id: str, name: str, user: CurrentUser, svc: AppServices
) -> Response:
    session = await owned_session(svc, user, conversation_id)
    upstream = await svc.pool_client.download(session, _file_name(name))
    disposition = f"attachment; filename*=UTF-8''{quote(_file_name(name))}"
    return Response(
        upstream.content,
        media_type=upstream.headers.get("content-type", "application/octet-stream"),
        headers={"Content-Disposition": disposition},
    )


def _file_name(raw: str) -> str:
    """A plain file name in /mnt/data; clients may send it with that prefix."""
    name = posixpath.basename(raw.removeprefix("/mnt/data/"))
    if not name or name in (".", "..") or "/" in raw.removeprefix("/mnt/data/"):
        raise BadRequest("a file name must be a plain name, without directories")
    return name
