"""Who is calling: API keys and Microsoft Entra ID tokens, checked by one FastAPI dependency."""

import hmac
import ipaddress
import logging

import anyio
from fastapi import HTTPException, Request, status

from security.entra import EntraTokenVerifier, InvalidToken, KeysUnavailable, NotPermitted
from security.keys import hash_api_key
from security.sessions import SESSION_COOKIE, SessionSigner, SignedIn
from settings import Settings

ANONYMOUS = "anonymous"
REALM = 'Bearer realm="code-interpreter"'
# An API key is valid until removed from API_KEYS; its sign-ins last SESSION_MAX_AGE_SECONDS.
KEYS_DO_NOT_EXPIRE = 2**62
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
_MAX_CREDENTIAL_CHARS = 8192

log = logging.getLogger(__name__)


class Unauthorized(HTTPException):
    """401 with a challenge; the detail says what to send, never why a credential failed."""

    def __init__(self, detail: str, invalid: bool = False) -> None:
        challenge = f'{REALM}, error="invalid_token"' if invalid else REALM
        super().__init__(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": challenge})


class Forbidden(HTTPException):
    """403: a valid credential whose holder may not use this API (RFC 6750 insufficient_scope)."""

    def __init__(self, detail: str, scope: str) -> None:
        challenge = f'{REALM}, error="insufficient_scope", scope="{scope}"'
        super().__init__(status.HTTP_403_FORBIDDEN, detail, {"WWW-Authenticate": challenge})


def enabled_methods(settings: Settings) -> frozenset[str]:
    """The ways of signing in that AUTH_MODE and the configured credentials switch on."""
    has_keys, has_entra = bool(settings.api_keys), bool(settings.entra_tenant_id)
    configured = {name for name, on in (("api_key", has_keys), ("entra", has_entra)) if on}
    wanted = {
        "off": set(),
        "auto": configured,
        "api_key": {"api_key"},
        "entra": {"entra"},
        "both": {"api_key", "entra"},
    }[settings.auth_mode]
    if "api_key" in wanted and not has_keys:
        raise ValueError(f"AUTH_MODE={settings.auth_mode} needs API_KEYS")
    if "entra" in wanted and not (has_entra and settings.entra_audience):
        raise ValueError(f"AUTH_MODE={settings.auth_mode} needs ENTRA_TENANT_ID and ENTRA_AUDIENCE")
    if "entra" in wanted and not (settings.entra_required_scopes or settings.entra_required_roles):
        raise ValueError(
            "Entra ID sign-in needs ENTRA_REQUIRED_SCOPES (delegated permissions, the `scp` of a "
            "user's token) or ENTRA_REQUIRED_ROLES (app roles, the `roles` of an application's "
            "token): without them any application of the tenant could call this API"
        )
    return frozenset(wanted)


def is_direct_loopback(request: Request) -> bool:
    """True for a client on this host that did not come through a proxy."""
    if request.client is None or any(h in request.headers for h in _FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class Authenticator:
    """A FastAPI dependency returning the caller's user id; cached on the request."""

    def __init__(self, settings: Settings) -> None:
        self.methods = enabled_methods(settings)
        self._key_digests = [(name, d.encode()) for name, d in settings.api_keys.items()]
        self._key_names = frozenset(settings.api_keys)
        self._entra = None
        if "entra" in self.methods and settings.entra_tenant_id and settings.entra_audience:
            self._entra = EntraTokenVerifier(
                settings.entra_tenant_id,
                settings.entra_audience,
                settings.entra_jwks_url,
                scopes=settings.entra_required_scopes,
                roles=settings.entra_required_roles,
                allow_guests=settings.entra_allow_guests,
            )
        secret = settings.session_secret.get_secret_value() if settings.session_secret else None
        self.sessions = SessionSigner(secret, settings.session_max_age_seconds)

    async def __call__(self, request: Request) -> str:
        # `request.state.user` is where the service's routes and LangServe's hook read it.
        cached = getattr(request.state, "user", None)
        if cached is None:
            cached = request.state.user = await self._authenticate(request)
        return cached

    async def _authenticate(self, request: Request) -> str:
        if not self.methods:
            if is_direct_loopback(request):
                return ANONYMOUS
            raise Unauthorized(
                "authentication is not configured: only clients on this host are served "
                "until API_KEYS or ENTRA_TENANT_ID is set"
            )
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        api_key = request.headers.get("x-api-key")
        if scheme.lower() == "bearer" and bearer.strip():
            return (await self.identify(bearer.strip())).user
        if api_key and "api_key" in self.methods:
            return self._check_api_key(api_key)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return self._signed_in(cookie)
        raise Unauthorized(f"authentication required: send {self._accepted()}")

    async def identify(self, credential: str) -> SignedIn:
        """Who a bearer credential (API key or Entra ID token) belongs to, and until when."""
        looks_like_jwt = credential.count(".") == 2
        if looks_like_jwt and self._entra is not None:
            try:
                caller = await anyio.to_thread.run_sync(self._entra.verify, credential)
            except KeysUnavailable as exc:
                log.warning("Entra ID signing keys unavailable: %s", type(exc.__cause__).__name__)
                detail = "cannot check the token right now; retry later"
                raise HTTPException(503, detail, {"Retry-After": "30"}) from exc
            except InvalidToken as exc:
                log.info("rejected an Entra ID token: %s", exc)
                raise Unauthorized("invalid or expired token", invalid=True) from exc
            except NotPermitted as exc:
                log.info("refused an Entra ID token: %s", exc)
                raise Forbidden(str(exc), self._entra.challenge_scope) from exc
            return SignedIn(caller.user, "entra", caller.expires_at)
        if "api_key" in self.methods:
            return SignedIn(self._check_api_key(credential), "api_key", KEYS_DO_NOT_EXPIRE)
        raise Unauthorized("invalid or expired token", invalid=True)

    def _signed_in(self, cookie: str) -> str:
        """The user of a browser's sign-in, while it lasts and its way of signing in is on."""
        who = self.sessions.read(cookie)
        if who is None or not self._still_valid(who):
            raise Unauthorized("your sign-in has expired; sign in again", invalid=True)
        return who.user

    def _still_valid(self, who: SignedIn) -> bool:
        """Its way of signing in is still on, and an API key's name is still in API_KEYS."""
        return who.method in self.methods and (
            who.method != "api_key" or who.user in self._key_names
        )

    def _check_api_key(self, key: str) -> str:
        if len(key) <= _MAX_CREDENTIAL_CHARS:
            presented = hash_api_key(key).encode()
            matches = [name for name, d in self._key_digests if hmac.compare_digest(presented, d)]
            if matches:
                return matches[0]
        log.info("rejected an API key")
        raise Unauthorized("invalid API key", invalid=True)

    def _accepted(self) -> str:
        ways = []
        if "api_key" in self.methods:
            ways.append("an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        if "entra" in self.methods:
            ways.append("a Microsoft Entra ID access token as 'Authorization: Bearer <token>'")
        return " or ".join(ways)
