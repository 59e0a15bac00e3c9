"""Signed links to a conversation's images and files: URLs a browser can open without
credentials (a chat front-end showing a plot), valid only for the resource they name."""

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import quote

from fastapi import Request

from conversations import Conversation
from settings import Settings

KEY_FILE = "link-signing.key"
SIGNATURE_CHARS = 32


class Links:
    """Builds and checks `?sig=` links to `/conversations/{id}/{kind}/{name}`.

    The signature covers the owner, the conversation and the resource, so a link opens that
    one image or file of that conversation while its owner keeps it, and nothing else.
    """

    def __init__(self, key: bytes, public_base_url: str | None = None) -> None:
        self._key = key
        self._base = public_base_url.rstrip("/") if public_base_url else None

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
        message = "\0".join((owner, conversation_id, resource)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]

    def valid(self, signature: str, owner: str, conversation_id: str, resource: str) -> bool:
        expected = self.sign(owner, conversation_id, resource)
        return hmac.compare_digest(expected.encode(), signature.encode())


def build_links(settings: Settings) -> Links:
    """LINK_SIGNING_KEY, or a key made once and kept in DATA_DIR (so links survive restarts
    and every worker on this host accepts them)."""
    if settings.link_signing_key is not None:
        key = settings.link_signing_key.get_secret_value().encode()
    else:
        key = _kept_key(settings.data_dir / KEY_FILE)
    return Links(key, settings.public_base_url)


def _kept_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # Written whole to a file of its own, then linked into place: of several workers starting
    # at once, one key wins and no worker ever reads a file still being written.
    fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(key)
        os.link(draft, path)
    except FileExistsError:
        return path.read_bytes()
    finally:
        os.unlink(draft)
    return key
