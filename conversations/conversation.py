"""The conversation object: its id, its user, its code session and its memory thread."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conversations.ids import session_identifier, thread_identifier

NO_CONVERSATION = (
    "this run has no conversation: its config must carry the ids of a claimed conversation "
    "(Conversation.configurable())"
)


@dataclass(frozen=True)
class Conversation:
    """Computed once per request by `Conversations.claim`; runs carry it in their config
    (`configurable`), where the chain, the agent and the tool read it."""

    id: str
    user: str
    session_id: str
    thread_id: str

    @classmethod
    def of(cls, user: str, conversation_id: str) -> "Conversation":
        return cls(
            id=conversation_id,
            user=user,
            session_id=session_identifier(user, conversation_id),
            thread_id=thread_identifier(user, conversation_id),
        )

    def configurable(self) -> dict[str, str]:
        """The run's `configurable` keys; `thread_id` is the name LangGraph reads."""
        return {
            "conversation_id": self.id,
            "user_id": self.user,
            "session_id": self.session_id,
            "thread_id": self.thread_id,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> "Conversation":
        configurable = (config or {}).get("configurable") or {}
        try:
            return cls(
                id=configurable["conversation_id"],
                user=configurable["user_id"],
                session_id=configurable["session_id"],
                thread_id=configurable["thread_id"],
            )
        except KeyError:
            raise LookupError(NO_CONVERSATION) from None
