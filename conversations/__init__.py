"""Conversations: ids and ownership (`claim`), the code session and memory thread of each,
and the store of what was said."""

from conversations.access import Conversations
from conversations.conversation import Conversation
from conversations.ids import check_conversation_id
from conversations.store import ConversationStore, build_engine

__all__ = [
    "Conversation",
    "ConversationStore",
    "Conversations",
    "build_engine",
    "check_conversation_id",
]
