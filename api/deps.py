"""The routes' dependencies, declared once: the caller, the app's services, and the
conversation a path names."""

from typing import Annotated

from fastapi import Depends, Query, Request

from conversations import Conversation
from errors import NotFound
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
RunSlot = Depends(guards.run_slot)


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


async def linked_in_path(
    request: Request,
    conversation_id: str,
    name: str,
    svc: AppServices,
    sig: Annotated[
        str | None, Query(description="The signature of a link the service gave out.")
    ] = None,
) -> Conversation:
    """The conversation of a `/conversations/{id}/{kind}/{name}` resource: the caller's own,
    or anyone's for a request carrying the signed link the service put in an answer."""
    if sig is None:
        user = await guards.current_user(request)
        return await svc.conversations.claim(user, conversation_id, record=False)
    owner = await svc.conversations.owner_of(conversation_id)
    kind = request.url.path.rsplit("/", 2)[-2]
    if owner is None or not svc.links.valid(sig, owner, conversation_id, f"{kind}/{name}"):
        raise NotFound("this link is not valid (or its conversation was deleted)")
    return Conversation.of(owner, conversation_id)


PathConversation = Annotated[Conversation, Depends(conversation_in_path)]
ClaimedConversation = Annotated[Conversation, Depends(claimed_in_path)]
LinkedConversation = Annotated[Conversation, Depends(linked_in_path)]
