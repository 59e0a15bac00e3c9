"""Signed links to a conversation's images and files: URLs a browser can open without
credentials (a chat front-end showing a plot), valid only for the resource they name."""

import hashlib
import hmac
import secrets
from urllib.parse import quote

from fastapi import Request

from conversations import Conversation
from conversations.file_storage import FileStorage
from settings import Settings

KEPT_KEY = "service/link-signing.key"  # no conversation's file key looks like it
SIGNATURE_CHARS = 32


class Links:
    """Builds and checks `?sig=` links to `/conversations/{id}/{kind}/{name}`.

    The signature covers the owner, the conversation and the resource, so a link opens that
    one image or file of that conversation while its owner keeps it, and nothing else.
    """

    def __init__(self, key: bytes | None, public_base_url: str | None = None) -> None:
        self._key = key
        self._base = public_base_url.rstrip("/") if public_base_url else None

    async def keep_key(self, storage: FileStorage) -> None:
        """Without a key given: the one kept in the conversation files' storage (DATA_DIR or
        the Blob container), made by the first worker or replica to start. Every worker and
        replica sharing the storage then signs alike, and links outlive restarts."""
        if self._key is None:
            self._key = await storage.keep_first(KEPT_KEY, secrets.token_bytes(32))

    def base(self, request: Request) -> str:
        """The service's URL as the caller of `request` reaches it (PUBLIC_BASE_URL if set)."""
        return self._base or str(request.base_url).rstrip("/")

    def url(self, request: Request, conversation: Conversation, kind: str, name: str) -> str:
        """The absolute URL of the resource, as the caller of `request` reaches the service."""
        base = self.base(request)
        signature = self.sign(conversation.user, conversation.id, f"{kind}/{name}")
        path = f"/conversations/{quote(conversation.id)}/{kind}/{quote(name)}"
        return f"{base}{path}?sig={signature}"

    def sign(self, owner: str, conversation_id: str, resource: str) -> str:
        if self._key is None:
            raise RuntimeError("the link signing key is not kept yet (Links.keep_key)")
        message = "\0".join((owner, conversation_id, resource)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]

    def valid(self, signature: str, owner: str, conversation_id: str, resource: str) -> bool:
        expected = self.sign(owner, conversation_id, resource)
        return hmac.compare_digest(expected.encode(), signature.encode())


def build_links(settings: Settings) -> Links:
    """Links signed with LINK_SIGNING_KEY, or (`keep_key`) with the key kept in the files'
    storage."""
    key = settings.link_signing_key
    return Links(key.get_secret_value().encode() if key else None, settings.public_base_url)
