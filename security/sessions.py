"""A browser's sign-in: a signed, expiring cookie value naming who signed in, never the
credential they signed in with.

Signed with itsdangerous (the signer of Starlette's SessionMiddleware) under SESSION_SECRET,
or else a key kept beside the conversations' files (`keep_key`), shared by every worker and
replica that shares them. Used directly rather than through SessionMiddleware because the
cookie's `Secure` flag and path follow each request (TLS ends at Azure's ingress; the app may
sit under a path prefix), which the middleware fixes when the app starts.
"""

import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

from conversations.file_storage import FileStorage

SESSION_COOKIE = "ci_session"


@dataclass(frozen=True)
class SignedIn:
    user: str
    method: str  # "api_key" or "entra": how they proved it
    expires_at: int  # Unix time; an Entra ID sign-in ends with its token


KEPT_KEY = "service/session-signing.key"  # no conversation's file key looks like it


class SessionSigner:
    def __init__(self, secret: str | None, max_age_seconds: int) -> None:
        self._given = secret is not None
        # Until `keep_key` (an app without the service's storage keeps this random one).
        self._use(secret or secrets.token_urlsafe(32))
        self.max_age = max_age_seconds

    async def keep_key(self, storage: FileStorage) -> None:
        """Without SESSION_SECRET: sign with the key kept in the conversation files' storage,
        made by the first worker or replica to start, so that a sign-in made on one holds on
        the others and across restarts."""
        if not self._given:
            self._use(await storage.keep_first(KEPT_KEY, secrets.token_bytes(32)))

    def _use(self, key: str | bytes) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="code-interpreter sign-in")

    def issue(self, who: SignedIn) -> tuple[str, int]:
        """The cookie's value and its lifetime in seconds."""
        expires_at = min(who.expires_at, int(time.time()) + self.max_age)
        value = self._serializer.dumps([who.user, who.method, expires_at])
        return value, max(0, expires_at - int(time.time()))

    def read(self, value: str) -> SignedIn | None:
        """Who signed in, or None for a value that is forged, tampered with or expired."""
        try:
            user, method, expires_at = self._serializer.loads(value, max_age=self.max_age)
        except (BadData, TypeError, ValueError):
            return None
        if not isinstance(expires_at, int) or expires_at <= time.time():
            return None
        return SignedIn(str(user), str(method), expires_at)
