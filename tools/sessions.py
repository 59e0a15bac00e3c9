"""Session identifiers: derived on the server from the user and the conversation id."""

import hashlib
import re
import uuid
from collections.abc import Mapping

from langchain_core.runnables import RunnableConfig

from errors import BadRequest
from security.auth import ANONYMOUS

# The user of runs without authentication (auth off, or a chain called in-process).
DEFAULT_USER = ANONYMOUS
CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CONVERSATION_ID_RULE = "a conversation id is 1-64 characters of A-Z, a-z, 0-9, '_' and '-'"


def check_conversation_id(conversation_id: str) -> str:
    """The id itself when well formed; BadRequest with the rule otherwise."""
    if not isinstance(conversation_id, str) or not CONVERSATION_ID.fullmatch(conversation_id):
        raise BadRequest(f"malformed conversation_id: {CONVERSATION_ID_RULE}")
    return conversation_id


def new_conversation_id() -> str:
    return str(uuid.uuid4())


def session_identifier(user_id: str, conversation_id: str) -> str:
    """A stable pool identifier that no client can choose or guess for another user."""
    digest = hashlib.sha256(f"{user_id}\0{conversation_id}".encode()).hexdigest()
    return f"conv-{digest[:40]}"


def conversation_configurable(user_id: str, conversation_id: str | None) -> dict:
    """The `configurable` keys every run needs; issues a conversation id when none is given."""
    conversation_id = check_conversation_id(conversation_id or new_conversation_id())
    return {
        "conversation_id": conversation_id,
        "user_id": user_id,
        "session_id": session_identifier(user_id, conversation_id),
    }


def session_for(config: RunnableConfig | Mapping | None) -> str:
    """The session of the run's conversation, derived again if only the id was configured."""
    configurable = (config or {}).get("configurable", {})
    if configurable.get("session_id"):
        return configurable["session_id"]
    conversation_id = check_conversation_id(configurable.get("conversation_id") or "")
    return session_identifier(configurable.get("user_id") or DEFAULT_USER, conversation_id)
