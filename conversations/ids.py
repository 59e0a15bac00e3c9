"""Conversation ids as clients send them, and the ids derived from them on the server."""

import hashlib
import re
import uuid

from errors import BadRequest

CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CONVERSATION_ID_RULE = "a conversation id is 1-64 characters of A-Z, a-z, 0-9, '_' and '-'"


def check_conversation_id(conversation_id: object) -> str:
    """The id itself when well formed; BadRequest with the rule otherwise."""
    if not isinstance(conversation_id, str) or not CONVERSATION_ID.fullmatch(conversation_id):
        raise BadRequest(f"malformed conversation_id: {CONVERSATION_ID_RULE}")
    return conversation_id


def new_conversation_id() -> str:
    return str(uuid.uuid4())


def session_identifier(user: str, conversation_id: str) -> str:
    """The code session's pool identifier: stable, and no client can choose or guess it for
    another user (it is a digest of the user and the conversation id)."""
    digest = hashlib.sha256(f"{user}\0{conversation_id}".encode()).hexdigest()
    return f"conv-{digest[:40]}"


def thread_identifier(user: str, conversation_id: str) -> str:
    """The memory thread of the conversation (the checkpointer's `thread_id`). Conversation
    ids hold no '/', so the user is everything before the last one."""
    return f"{user}/{conversation_id}"
