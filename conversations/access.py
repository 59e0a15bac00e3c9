"""Each user's conversations: claiming an id, loading and saving turns, reading, forgetting."""

import asyncio
import uuid
from collections.abc import Sequence

import nbformat
from langchain_core.messages import BaseMessage, HumanMessage

from conversations.conversation import Conversation
from conversations.ids import check_conversation_id, new_conversation_id
from conversations.memory import Memory, turn_start
from conversations.migrate import migrate
from conversations.notebook import build_notebook
from conversations.store import TITLE_CHARS, ConversationStore
from conversations.transcript import page_messages
from errors import NotFound

SAVE_GRACE_SECONDS = 30  # how long a shutdown waits for turns still being saved


class Conversations:
    """The one place that decides which conversation a request is about, and keeps it."""

    def __init__(self, store: ConversationStore, memory: Memory, tool_result_max_chars: int):
        self.store = store
        self.memory = memory
        self._saving: set[asyncio.Task] = set()
        self._tool_result_max_chars = tool_result_max_chars

    async def start(self) -> None:
        await self.memory.start()
        await migrate(self.store.engine, self.memory, self._tool_result_max_chars)

    async def close(self) -> None:
        # Turns cut short by the shutdown itself are still being saved: let them finish first.
        if self._saving:
            await asyncio.wait(self._saving, timeout=SAVE_GRACE_SECONDS)
        await self.memory.close()
        await self.store.close()

    async def claim(
        self, user: str, conversation_id: str | None, *, record: bool = True
    ) -> Conversation:
        """The caller's conversation `conversation_id`, or a new one when it is None.

        A conversation id belongs to the user who first uses it: for anyone else it is a 404,
        on every route. With `record`, an id nobody has used yet becomes the caller's; routes
        that only read or stop something pass `record=False` and write nothing.
        """
        conversation_id = check_conversation_id(conversation_id or new_conversation_id())
        if record:
            mine = await self.store.claim(user, conversation_id)
        else:
            mine = await self.store.owner(conversation_id) in (None, user)
        if not mine:
            raise NotFound(f"no conversation {conversation_id}")
        return Conversation.of(user, conversation_id)

    async def load(
        self, conversation: Conversation, replace_from: int | None = None
    ) -> list[BaseMessage]:
        """What the model is shown of the conversation so far (HISTORY_MAX_TOKENS); with
        `replace_from`, of the turns before that one (which the new turn replaces)."""
        messages = await self.memory.load(conversation.thread_id)
        if replace_from is not None:
            messages = messages[: turn_start(messages, replace_from)]
        return self.memory.bounded(messages)

    async def save(
        self,
        conversation: Conversation,
        turn: Sequence[BaseMessage],
        replace_from: int | None = None,
    ) -> None:
        """Keep a turn: its messages in the memory (in place of turn `replace_from` and the
        later ones, if given), and the conversation's time and title. The save runs to its end
        even when the turn is being cancelled (a stop, a closed tab, the service stopping)."""
        task = asyncio.ensure_future(self._save(conversation, turn, replace_from))
        self._saving.add(task)  # the loop keeps only a weak reference to its tasks
        task.add_done_callback(self._saving.discard)
        await asyncio.shield(task)

    async def _save(
        self, conversation: Conversation, turn: Sequence[BaseMessage], replace_from: int | None
    ) -> None:
        saved = [message.model_copy(update={"id": str(uuid.uuid4())}) for message in turn]
        await self.memory.append(conversation.thread_id, saved, replace_from)
        question = next((m.text for m in turn if isinstance(m, HumanMessage)), "")
        await self.store.touch(conversation.user, conversation.id, question)

    async def owner_of(self, conversation_id: str) -> str | None:
        """The user the conversation id belongs to; None while nobody has used it."""
        return await self.store.owner(check_conversation_id(conversation_id))

    async def list_for(self, user: str) -> list[dict]:
        """The user's conversations, newest first: id, title, updated_at, created_at."""
        return await self.store.list_of(user)

    async def history(self, conversation: Conversation) -> dict:
        """The conversation as the page shows it; 404 when it has no turn yet."""
        title = await self._title(conversation)
        messages = await self.memory.load(conversation.thread_id)
        return {"id": conversation.id, "title": title, "messages": page_messages(messages)}

    async def notebook(self, conversation: Conversation) -> nbformat.NotebookNode:
        """The conversation as a Jupyter notebook; 404 when it has no turn yet."""
        title = await self._title(conversation)
        messages = await self.memory.load(conversation.thread_id)
        return build_notebook(title, page_messages(messages, raw_steps=True))

    async def _title(self, conversation: Conversation) -> str:
        title = await self.store.title(conversation.user, conversation.id)
        if title is None:
            raise NotFound(f"no conversation {conversation.id}")
        return title

    async def rename(self, conversation: Conversation, title: str) -> str:
        """Give the conversation a title of the user's choosing; 404 when it has no turn yet."""
        title = " ".join(title.split())[:TITLE_CHARS]
        if not await self.store.rename(conversation.user, conversation.id, title):
            raise NotFound(f"no conversation {conversation.id}")
        return title

    async def forget(self, conversation: Conversation) -> None:
        """Forget what was said and free the id."""
        await self.memory.forget(conversation.thread_id)
        await self.store.delete(conversation.user, conversation.id)
