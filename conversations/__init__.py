"""Conversations: ids and ownership (`claim`), the code session and memory thread of each,
what was said (the model's memory, a LangGraph checkpointer) and the page's view of it."""

from conversations.access import Conversations
from conversations.conversation import Conversation
from conversations.databases import build_engine, open_checkpointer, save_locks
from conversations.memory import Memory
from conversations.store import ConversationStore

__all__ = [
    "Conversation",
    "ConversationStore",
    "Conversations",
    "Memory",
    "build_engine",
    "open_checkpointer",
    "save_locks",
]
