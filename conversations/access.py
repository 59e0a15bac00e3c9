"""The conversations of each user: claiming an id, and reading, saving and forgetting turns."""

import asyncio

from conversations.conversation import Conversation
from conversations.ids import check_conversation_id, new_conversation_id
from conversations.store import ConversationStore
from errors import NotFound


class Conversations:
    """The one place that decides which conversation a request is about."""

    def __init__(self, store: ConversationStore) -> None:
        self.store = store

    async def start(self) -> None:
        await asyncio.to_thread(self.store.create_tables)

    async def close(self) -> None:
        self.store.close()

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
            mine = await asyncio.to_thread(self.store.claim, user, conversation_id)
        else:
            mine = await asyncio.to_thread(self.store.owner, conversation_id) in (None, user)
        if not mine:
            raise NotFound(f"no conversation {conversation_id}")
        return Conversation.of(user, conversation_id)

    async def list_for(self, user: str) -> list[dict]:
        """The user's conversations, newest first: id, title, updated_at."""
        return await asyncio.to_thread(self.store.list, user)

    async def history(self, conversation: Conversation) -> dict:
        """The conversation's title and messages as the page shows them; 404 when it has none."""
        found = await asyncio.to_thread(self.store.get, conversation.user, conversation.id)
        if found is None:
            raise NotFound(f"no conversation {conversation.id}")
        return found

    async def load(self, conversation: Conversation, limit: int) -> list[dict]:
        return await asyncio.to_thread(
            self.store.history, conversation.user, conversation.id, limit
        )

    def save_turn(self, conversation: Conversation, question: str, answer: dict) -> asyncio.Future:
        return asyncio.get_running_loop().run_in_executor(
            None, self.store.append_turn, conversation.user, conversation.id, question, answer
        )

    async def forget(self, conversation: Conversation) -> None:
        await asyncio.to_thread(self.store.delete, conversation.user, conversation.id)
