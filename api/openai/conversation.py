"""Which conversation (and so which code session) a chat completion belongs to.

The OpenAI API has no conversation: a client sends the whole conversation each time. The
service keeps one anyway, named, in this order, by:

1. `metadata.conversation_id` in the body, or the `X-Conversation-Id` header (LibreChat can
   send `{{LIBRECHAT_BODY_CONVERSATIONID}}` there);
2. `X-OpenWebUI-Chat-Id`, which Open WebUI sends with ENABLE_FORWARD_USER_INFO_HEADERS;
3. otherwise an id derived from the caller and the conversation's first user message, so every
   turn of one chat lands in the same conversation. Two chats that open with the same
   message share it: name the conversation to keep them apart.

The answer names it in the `X-Conversation-Id` header.
"""

import hashlib

from fastapi import Request

from api.openai.errors import OpenAIError
from conversations.ids import check_conversation_id
from errors import BadRequest

HEADER = "X-Conversation-Id"
OPEN_WEBUI_HEADER = "X-OpenWebUI-Chat-Id"


def conversation_id_for(request: Request, metadata: dict | None, user: str, first: str) -> str:
    """The conversation id of a request whose first user message is `first`."""
    named = (metadata or {}).get("conversation_id")
    header = request.headers.get(HEADER)
    if named and header and named != header:
        raise OpenAIError(
            f"metadata.conversation_id and the {HEADER} header name different conversations",
            param="metadata.conversation_id",
        )
    if named or header:
        try:
            return check_conversation_id(named or header)
        except BadRequest as error:
            param = "metadata.conversation_id" if named else None
            raise OpenAIError(error.message, param=param) from None
    forwarded = request.headers.get(OPEN_WEBUI_HEADER)
    if forwarded:
        return _derived("owui", f"{user}\0{forwarded}")
    return _derived("oai", f"{user}\0{first}")


def _derived(prefix: str, seed: str) -> str:
    digest = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{prefix}-{digest[:40]}"
