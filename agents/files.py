"""Tell the model, on every call, which files the conversation's session holds."""

from collections.abc import Awaitable, Callable

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import SystemMessage
from langgraph.config import get_config

from agents.prompts import NO_SESSION_FILES_NOTE, SESSION_FILES_NOTE
from conversations import Conversation
from tools import PoolClient


class SessionFilesMiddleware(AgentMiddleware):
    """Appends the list of files in /mnt/data to the system prompt before each model call."""

    def __init__(self, pool_client: PoolClient) -> None:
        super().__init__()
        self._pool_client = pool_client

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        session = Conversation.from_config(get_config()).session_id
        files = await self._pool_client.list_files(session)
        note = _files_note(files)
        base = request.system_message.text if request.system_message else ""
        system = SystemMessage(content=f"{base}\n\n{note}".strip())
        return await handler(request.override(system_message=system))


def _files_note(files: list[dict]) -> str:
    if not files:
        return NO_SESSION_FILES_NOTE
    listed = ", ".join(f"{f['name']} ({f['size']} bytes)" for f in files)
    return SESSION_FILES_NOTE.format(files=listed)
