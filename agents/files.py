"""The conversation's files around each agent turn: restored into a new code session before
the turn and kept after it (`conversations.files`), and listed for the model on every call."""

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NotRequired

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain.agents.middleware.types import PrivateStateAttr
from langchain_core.messages import SystemMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime

from agents.prompts import (
    FILES_LOST_NOTE,
    FILES_RESTORED_NOTE,
    NO_SESSION_FILES_NOTE,
    NOT_KEPT_MARK,
    SESSION_FILES_NOTE,
)
from conversations import Conversation, ConversationFiles, Sync
from errors import ServiceError

log = logging.getLogger(__name__)


class SessionFilesState(AgentState):
    files_note: NotRequired[Annotated[str, PrivateStateAttr]]


class SessionFilesMiddleware(AgentMiddleware[SessionFilesState]):
    """Syncs the conversation's files when the agent starts its turn (restoring them into a
    new session) and when it ends (keeping what the code wrote), and adds the list to the
    system prompt of each model call in the turn."""

    state_schema = SessionFilesState

    def __init__(self, files: ConversationFiles) -> None:
        super().__init__()
        self._files = files

    async def abefore_agent(self, state: SessionFilesState, runtime: Runtime) -> dict[str, Any]:
        conversation = Conversation.from_config(get_config())
        sync = await self._files.sync(conversation)
        return {"files_note": files_note(sync)}

    async def aafter_agent(self, state: SessionFilesState, runtime: Runtime) -> None:
        conversation = Conversation.from_config(get_config())
        try:
            await self._files.sync(conversation)
        except ServiceError as error:
            # The answer stands; the next turn (or listing) keeps the files instead.
            log.warning("keeping the files of a turn failed: %s", error)

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        note = request.state.get("files_note", "")
        base = request.system_message.text if request.system_message else ""
        system = SystemMessage(content=f"{base}\n\n{note}".strip())
        return await handler(request.override(system_message=system))


def files_note(sync: Sync) -> str:
    """What the model is told of the session's files, and of a session that is new."""
    notes = []
    if sync.restored:
        notes.append(FILES_RESTORED_NOTE.format(files=", ".join(sync.restored)))
    if sync.lost:
        notes.append(FILES_LOST_NOTE.format(files=", ".join(sync.lost)))
    if sync.files:
        listed = ", ".join(
            f"{f['name']} ({f['size']} bytes{'' if f['kept'] else NOT_KEPT_MARK})"
            for f in sync.files
        )
        notes.append(SESSION_FILES_NOTE.format(files=listed))
    else:
        notes.append(NO_SESSION_FILES_NOTE)
    return "\n".join(notes)
