"""Tell the model which files the conversation's session holds, listed once per turn."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NotRequired

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain.agents.middleware.types import PrivateStateAttr
from langchain_core.messages import SystemMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime

from agents.prompts import NO_SESSION_FILES_NOTE, SESSION_FILES_NOTE
from conversations import Conversation
from tools import PoolClient


class SessionFilesState(AgentState):
    session_files: NotRequired[Annotated[list[dict], PrivateStateAttr]]


class SessionFilesMiddleware(AgentMiddleware[SessionFilesState]):
    """Lists /mnt/data when the agent starts its turn, and adds the list to the system prompt
    of each model call in that turn (files the code writes meanwhile are in its results)."""

    state_schema = SessionFilesState

    def __init__(self, pool_client: PoolClient) -> None:
        super().__init__()
        self._pool_client = pool_client

    async def abefore_agent(self, state: SessionFilesState, runtime: Runtime) -> dict[str, Any]:
        session = Conversation.from_config(get_config()).session_id
        return {"session_files": await self._pool_client.list_files(session)}

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        files: list[dict] = request.state.get("session_files", [])  # type: ignore[assignment]
        note = _files_note(files)
        base = request.system_message.text if request.system_message else ""
        system = SystemMessage(content=f"{base}\n\n{note}".strip())
        return await handler(request.override(system_message=system))


def _files_note(files: list[dict]) -> str:
    if not files:
        return NO_SESSION_FILES_NOTE
    listed = ", ".join(f"{f['name']} ({f['size']} bytes)" for f in files)
    return SESSION_FILES_NOTE.format(files=listed)
