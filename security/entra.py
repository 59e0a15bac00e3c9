"""Microsoft Entra ID access tokens: signature by the tenant's keys, issuer, audience, expiry."""

import jwt
from jwt import PyJWKClient, PyJWKClientConnectionError, PyJWKClientError

ALGORITHMS = ["RS256"]
CLOCK_SKEW_SECONDS = 60
_LOGIN = "https://login.microsoftonline.com"


class InvalidToken(Exception):
    """The token is not one this service accepts; the message is for logs, not for clients."""


class KeysUnavailable(Exception):
    """The tenant's signing keys could not be fetched, so no token can be checked now."""


class EntraTokenVerifier:
    """Checks tokens issued by one tenant for one API; blocking (fetches keys), run in a thread."""

    def __init__(self, tenant_id: str, audience: str, jwks_url: str | None = None) -> None:
        self._audience = [a.strip() for a in audience.split(",") if a.strip()]
        # v2.0 tokens and v1.0 tokens (apps whose manifest keeps accessTokenAcceptedVersion 1).
        self._issuers = [f"{_LOGIN}/{tenant_id}/v2.0", f"https://sts.windows.net/{tenant_id}/"]
        url = jwks_url or f"{_LOGIN}/{tenant_id}/discovery/v2.0/keys"
        # The cooldown stops tokens with made-up key ids from making us refetch on every call.
        self._keys = PyJWKClient(url, cache_keys=True, timeout=5, cooldown_duration=60)

    def verify(self, token: str) -> str:
        """The caller's stable id, `entra:<object id>`, or InvalidToken / KeysUnavailable."""
        try:
            key = self._keys.get_signing_key_from_jwt(token)
        except PyJWKClientConnectionError as exc:
            raise KeysUnavailable() from exc
        except (PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise InvalidToken(f"no signing key: {type(exc).__name__}") from exc
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuers,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud", "oid"]},
            )
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        return f"entra:{claims['oid']}"
