"""The caller's conversations: list, read, rename, delete, and interrupt the code running in one."""

import contextlib
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from api.deps import AppServices, CurrentUser, PathConversation
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


@router.delete("/{conversation_id}", status_code=204)
async def delete_conversation(conversation: PathConversation, svc: AppServices) -> None:
    """Forget the history, and end the code session with its variables and files."""
    with contextlib.suppress(NotFound):
        # A pool that never saw the session (or already expired it) has nothing to delete.
        await svc.pool_client.delete_session(conversation.session_id)
    await svc.conversations.forget(conversation)


@router.post("/{conversation_id}/interrupt", status_code=204)
async def interrupt(conversation: PathConversation, svc: AppServices) -> None:
    """Stop the code running in the conversation's session; its variables stay."""
    await svc.pool_client.interrupt(conversation.session_id)
