"""Conversations: ids and ownership (`claim`), the code session and memory thread of each,
what was said (the model's memory, a LangGraph checkpointer) and the page's view of it."""

from conversations.access import Conversations
from conversations.conversation import Conversation
from conversations.databases import build_engine, open_checkpointer, save_locks
from conversations.file_storage import build_file_storage
from conversations.files import ConversationFiles, Sync
from conversations.memory import Memory
from conversations.store import ConversationStore

__all__ = [
    "Conversation",
    "ConversationFiles",
    "ConversationStore",
    "Conversations",
    "Memory",
    "Sync",
    "build_engine",
    "build_file_storage",
    "open_checkpointer",
    "save_locks",
]
