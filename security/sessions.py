"""A browser's sign-in: a signed, expiring cookie value naming who signed in, never the
credential they signed in with.

Signed with itsdangerous (the signer of Starlette's SessionMiddleware) under SESSION_SECRET,
or a random key per start. Used directly rather than through SessionMiddleware because the
cookie's `Secure` flag and path follow each request (TLS ends at Azure's ingress; the app may
sit under a path prefix), which the middleware fixes when the app starts.
"""

import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

SESSION_COOKIE = "ci_session"


@dataclass(frozen=True)
class SignedIn:
    user: str
    method: str  # "api_key" or "entra": how they proved it
    expires_at: int  # Unix time; an Entra ID sign-in ends with its token


class SessionSigner:
    def __init__(self, secret: str | None, max_age_seconds: int) -> None:
        # A random key means every sign-in ends when the service restarts.
        key = secret or secrets.token_urlsafe(32)
        self._serializer = URLSafeTimedSerializer(key, salt="code-interpreter sign-in")
        self.max_age = max_age_seconds

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
