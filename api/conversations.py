"""The caller's conversations: list, read, rename, export as a notebook, delete, and
interrupt the code running in one."""

import asyncio
import contextlib
from typing import Annotated

import nbformat
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from api.deps import AppServices, CurrentUser, PathConversation
from api.files import attachment
from conversations.notebook import MEDIA_TYPE as NOTEBOOK_MEDIA_TYPE
from conversations.notebook import notebook_zip
from conversations.store import TITLE_CHARS
from errors import NotFound

router = APIRouter(prefix="/conversations", tags=["conversations"])


@router.get("")
async def list_conversations(user: CurrentUser, svc: AppServices) -> list[dict]:
    """The caller's conversations, newest first."""
    return await svc.conversations.list_for(user)


@router.get("/{conversation_id}")
async def get_conversation(conversation: PathConversation, svc: AppServices) -> dict:
    """The conversation's messages, each python step with its code and results."""
    return await svc.conversations.history(conversation)


class Rename(BaseModel):
    title: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_CHARS)
    ] = Field(description="The new title.")


@router.patch("/{conversation_id}")
async def rename_conversation(
    rename: Rename, conversation: PathConversation, svc: AppServices
) -> dict:
    """Give the conversation a title of your own (it starts as its first message)."""
    title = await svc.conversations.rename(conversation, rename.title)
    return {"id": conversation.id, "title": title}


@router.get("/{conversation_id}/notebook")
async def get_notebook(
    conversation: PathConversation,
    svc: AppServices,
    include_files: bool = Query(
        default=False, description="A zip of the notebook and the conversation's kept files."
    ),
) -> Response:
    """The conversation as a Jupyter notebook (nbformat 4): a markdown cell per message and
    answer, a code cell per python step with its outputs."""
    notebook = await svc.conversations.notebook(conversation)
    name = f"conversation-{conversation.id}.ipynb"
    if not include_files:
        text = nbformat.writes(notebook)
        return Response(text, media_type=NOTEBOOK_MEDIA_TYPE, headers=attachment(name))
    kept = [f["name"] for f in await svc.files.listing(conversation) if f["kept"]]
    files = {file_name: await svc.files.read(conversation, file_name) for file_name in kept}
    archive = await asyncio.to_thread(notebook_zip, name, notebook, files)
    zip_name = name.removesuffix(".ipynb") + ".zip"
    return Response(archive, media_type="application/zip", headers=attachment(zip_name))


@router.delete("/{conversation_id}", status_code=204)
async def delete_conversation(conversation: PathConversation, svc: AppServices) -> None:
    """Forget the history and the kept files, and end the code session with its variables."""
    with contextlib.suppress(NotFound):
        # A pool that never saw the session (or already expired it) has nothing to delete.
        await svc.pool_client.delete_session(conversation.session_id)
    await svc.files.forget(conversation)
    await svc.conversations.forget(conversation)


@router.post("/{conversation_id}/interrupt", status_code=204)
async def interrupt(conversation: PathConversation, svc: AppServices) -> None:
    """Stop the code running in the conversation's session; its variables stay."""
    await svc.pool_client.interrupt(conversation.session_id)
