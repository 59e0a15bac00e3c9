"""Microsoft Entra ID access tokens: signature by the tenant's keys, issuer, audience, expiry,
and then what the caller may do here: a required scope or app role, and no guest account."""

from collections.abc import Iterable
from dataclasses import dataclass

import jwt
from jwt import PyJWKClient, PyJWKClientConnectionError, PyJWKClientError

ALGORITHMS = ["RS256"]
CLOCK_SKEW_SECONDS = 60
_LOGIN = "https://login.microsoftonline.com"


def issuer(tenant_id: str) -> str:
    """The tenant's v2.0 issuer: its tokens' `iss`, and where its OpenID configuration is."""
    return f"{_LOGIN}/{tenant_id}/v2.0"


class InvalidToken(Exception):
    """The token is not one this service accepts; the message is for logs, not for clients."""


class KeysUnavailable(Exception):
    """The tenant's signing keys could not be fetched, so no token can be checked now."""


class NotPermitted(Exception):
    """A valid token whose holder may not use this API; the message is for the client."""


@dataclass(frozen=True)
class EntraCaller:
    user: str  # entra:<object id>, of the user or of the application (app-only tokens)
    expires_at: int  # the token's `exp`, Unix time


def requestable_scopes(audience: str, scopes: Iterable[str]) -> list[str]:
    """`scopes` as a client asks Entra ID for them: the API's Application ID URI, a slash, the
    permission's name (`api://<app>/access_as_user`); a bare name is not issued."""
    first = audience.split(",")[0].strip()
    app_id_uri = first if "://" in first else f"api://{first}"
    return [f"{app_id_uri}/{scope}" for scope in scopes]


class EntraTokenVerifier:
    """Checks tokens issued by one tenant for one API; blocking (fetches keys), run in a thread.

    A token must hold one of `scopes` in its `scp` (a delegated permission: a user signed in
    to a client app) or one of `roles` in its `roles` (an app role: assigned to an application,
    or to a user), as Microsoft.Identity.Web's RequiredScopeOrAppPermission does. Guests
    (accounts from another tenant or a personal Microsoft account, invited into this one) are
    refused unless `allow_guests`.
    """

    def __init__(
        self,
        tenant_id: str,
        audience: str,
        jwks_url: str | None = None,
        *,
        scopes: Iterable[str] = (),
        roles: Iterable[str] = (),
        allow_guests: bool = False,
    ) -> None:
        self._audience = [a.strip() for a in audience.split(",") if a.strip()]
        # v2.0 tokens and v1.0 tokens (apps whose manifest keeps accessTokenAcceptedVersion 1).
        self._issuers = [issuer(tenant_id), f"https://sts.windows.net/{tenant_id}/"]
        url = jwks_url or f"{_LOGIN}/{tenant_id}/discovery/v2.0/keys"
        # The cooldown stops tokens with made-up key ids from making us refetch on every call.
        self._keys = PyJWKClient(url, cache_keys=True, timeout=5, cooldown_duration=60)
        self._scopes, self._roles = frozenset(scopes), frozenset(roles)
        self._allow_guests = allow_guests
        # What a refused client should ask for: the delegated permissions by their full names,
        # or, for app roles alone, the API's `.default` (the roles its app was granted).
        self.challenge_scope = " ".join(
            requestable_scopes(audience, sorted(self._scopes))
            or requestable_scopes(audience, [".default"])
        )

    def verify(self, token: str) -> EntraCaller:
        """The caller, or InvalidToken / KeysUnavailable / NotPermitted."""
        claims = self._claims(token)
        if not self._allow_guests and self._is_guest(claims):
            raise NotPermitted("guest accounts may not use this API")
        granted_scopes = set(str(claims.get("scp", "")).split())
        roles = claims.get("roles")
        roles = roles if isinstance(roles, list) else []
        granted_roles = {role for role in roles if isinstance(role, str)}
        if not (granted_scopes & self._scopes or granted_roles & self._roles):
            raise NotPermitted(f"the token grants none of: {self.required()}")
        return EntraCaller(f"entra:{claims['oid']}", int(claims["exp"]))

    def required(self) -> str:
        """What a token must hold: one of these scopes or app roles."""
        return " ".join(sorted(self._scopes | self._roles))

    def _claims(self, token: str) -> dict:
        try:
            key = self._keys.get_signing_key_from_jwt(token)
        except PyJWKClientConnectionError as exc:
            raise KeysUnavailable() from exc
        except (PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise InvalidToken(f"no signing key: {type(exc).__name__}") from exc
        try:
            return jwt.decode(
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

    def _is_guest(self, claims: dict) -> bool:
        # `acct` (an optional claim) says it outright; otherwise `idp` names the home tenant or
        # identity provider when it is not this tenant, which only a guest's token does.
        if claims.get("acct") == 1:
            return True
        idp = claims.get("idp")
        return idp is not None and idp not in self._issuers
