"""Entra ID tokens against a real JWKS endpoint on 127.0.0.1 serving a key made here."""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from security.entra import EntraTokenVerifier
from security.guards import build_guards
from security.sessions import SESSION_COOKIE
from settings import Settings
from tests.security.conftest import ALICE_KEY, make_settings, serve, whoami_app
from tests.support.servers import free_port

TENANT = "11111111-2222-3333-4444-555555555555"
AUDIENCE = "api://code-interpreter"
ISSUER_V2 = f"https://login.microsoftonline.com/{TENANT}/v2.0"
ISSUER_V1 = f"https://sts.windows.net/{TENANT}/"
KID = "test-key-1"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JwksServer:
    """Serves one RSA public key as a JWKS document and counts the fetches."""

    def __init__(self) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
        self.document = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig"}]}).encode()
        self.fetches = 0
        self.url = f"http://127.0.0.1:{free_port()}/discovery/v2.0/keys"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(outer.document)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    port = int(server.url.split(":")[2].split("/")[0])
    httpd = ThreadingHTTPServer(("127.0.0.1", port), server.handler())
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


SCOPE = "access_as_user"  # a delegated permission the API exposes
ROLE = "Chat.Invoke"  # an app role the API defines


def entra_settings(jwks_url: str, **overrides: object) -> Settings:
    fields = {
        "entra_tenant_id": TENANT,
        "entra_audience": AUDIENCE,
        "entra_jwks_url": jwks_url,
        "entra_required_scopes": [SCOPE],
        "entra_required_roles": [ROLE],
    }
    return make_settings(auth_mode="both", **{**fields, **overrides})


@pytest.fixture(scope="module")
def service(jwks: JwksServer) -> Iterator[str]:
    with serve(whoami_app(entra_settings(jwks.url))) as url:
        yield url


def claims(**overrides: object) -> dict:
    """A user's token (delegated, with the required scope) unless overridden."""
    now = int(time.time())
    base = {"iss": ISSUER_V2, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 3600}
    claims = {**base, "oid": "0000-user-a", "tid": TENANT, "scp": SCOPE, **overrides}
    return {name: value for name, value in claims.items() if value is not None}


def token(key=SIGNING_KEY, kid: str = KID, **overrides: object) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": kid})


def call(url: str, bearer: str) -> httpx.Response:
    return httpx.get(f"{url}/whoami", headers={"Authorization": f"Bearer {bearer}"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key() -> str:
    """The classic confusion: HMAC-sign with the RSA public key as the shared secret."""
    pem = SIGNING_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    body = _b64(json.dumps(claims()).encode())
    signature = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def unsigned() -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
    return f"{header}.{_b64(json.dumps(claims()).encode())}."


def test_a_valid_token_names_the_user_by_object_id(service: str) -> None:
    assert call(service, token()).json() == {"user": "entra:0000-user-a"}
    assert call(service, token(iss=ISSUER_V1, oid="b")).json() == {"user": "entra:b"}


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: token(key=OTHER_KEY), id="wrong-signature"),
        pytest.param(lambda: token(iss="https://login.microsoftonline.com/other/v2.0"), id="iss"),
        pytest.param(lambda: token(aud="api://someone-else"), id="wrong-audience"),
        pytest.param(lambda: token(iat=1, nbf=1, exp=int(time.time()) - 600), id="expired"),
        pytest.param(lambda: token(nbf=int(time.time()) + 3600), id="not-yet-valid"),
        pytest.param(lambda: token(oid=None), id="no-object-id"),
        pytest.param(lambda: token(kid="unknown-key"), id="unknown-key"),
        pytest.param(unsigned, id="alg-none"),
        pytest.param(hs256_with_public_key, id="hs256-confusion"),
        pytest.param(lambda: token()[:-4] + "AAAA", id="tampered"),
        pytest.param(lambda: "a.b.c", id="garbage"),
    ],
)
def test_a_bad_token_gets_401_invalid_token(service: str, bad) -> None:
    response = call(service, bad())
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json() == {"detail": "invalid or expired token"}


def test_api_keys_still_work_next_to_entra(service: str) -> None:
    assert call(service, ALICE_KEY).json() == {"user": "alice"}


def test_made_up_key_ids_do_not_refetch_the_keys_each_time(service: str, jwks) -> None:
    call(service, token())
    before = jwks.fetches
    for _ in range(5):
        assert call(service, token(kid=str(uuid.uuid4()))).status_code == 401
    assert jwks.fetches - before <= 1


def test_unreachable_keys_answer_503_not_401() -> None:
    with serve(whoami_app(entra_settings(f"http://127.0.0.1:{free_port()}/keys"))) as url:
        response = call(url, token())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "retry" in response.json()["detail"]


@pytest.mark.parametrize(
    "granted",
    [
        pytest.param({"scp": f"User.Read {SCOPE}"}, id="user-with-the-scope"),
        pytest.param({"scp": None, "roles": [ROLE], "idtyp": "app"}, id="app-with-the-role"),
        pytest.param({"scp": "User.Read", "roles": [ROLE]}, id="user-assigned-the-role"),
        pytest.param({"idp": f"https://sts.windows.net/{TENANT}/"}, id="member-idp-this-tenant"),
    ],
)
def test_a_token_with_a_required_scope_or_role_is_accepted(service: str, granted: dict) -> None:
    assert call(service, token(**granted)).json() == {"user": "entra:0000-user-a"}


@pytest.mark.parametrize(
    "lacking",
    [
        pytest.param({"scp": None}, id="no-scope-no-role"),
        pytest.param({"scp": "User.Read"}, id="another-scope"),
        pytest.param({"scp": f"{SCOPE}x"}, id="a-longer-scope-name"),
        pytest.param({"scp": None, "roles": ["Other.Role"], "idtyp": "app"}, id="app-other-role"),
        pytest.param({"scp": None, "roles": "Chat.Invoke"}, id="roles-not-a-list"),
    ],
)
def test_a_token_without_them_is_forbidden(service: str, lacking: dict) -> None:
    response = call(service, token(**lacking))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    # The scope a client asks Entra ID for, by its full name; the message names roles too.
    assert 'error="insufficient_scope"' in challenge and f'scope="{AUDIENCE}/{SCOPE}"' in challenge
    assert response.json() == {"detail": f"the token grants none of: {ROLE} {SCOPE}"}


GUEST_FROM_ANOTHER_TENANT = {"idp": "https://sts.windows.net/99999999-aaaa-bbbb-cccc-dddddddddddd/"}
GUESTS = [
    pytest.param(GUEST_FROM_ANOTHER_TENANT, id="another-tenant"),
    pytest.param({"idp": "live.com"}, id="personal-account"),
    pytest.param({"acct": 1}, id="acct-claim"),
]


@pytest.mark.parametrize("guest", GUESTS)
def test_guests_are_refused(service: str, guest: dict) -> None:
    response = call(service, token(**guest))
    assert response.status_code == 403
    assert response.json() == {"detail": "guest accounts may not use this API"}


@pytest.mark.parametrize("guest", GUESTS)
def test_guests_are_accepted_when_allowed(jwks: JwksServer, guest: dict) -> None:
    with serve(whoami_app(entra_settings(jwks.url, entra_allow_guests=True))) as url:
        assert call(url, token(**guest)).json() == {"user": "entra:0000-user-a"}


def test_entra_without_a_required_scope_or_role_refuses_to_start(jwks: JwksServer) -> None:
    settings = entra_settings(jwks.url, entra_required_scopes=[], entra_required_roles=[])
    with pytest.raises(ValueError, match="ENTRA_REQUIRED_SCOPES .* or ENTRA_REQUIRED_ROLES"):
        build_guards(settings)


def test_the_settings_read_comma_separated_lists(monkeypatch) -> None:
    monkeypatch.setenv("ENTRA_REQUIRED_SCOPES", f" {SCOPE}, Files.Read ")
    monkeypatch.setenv("ENTRA_REQUIRED_ROLES", ROLE)
    settings = Settings(_env_file=None)
    assert settings.entra_required_scopes == [SCOPE, "Files.Read"]
    assert settings.entra_required_roles == [ROLE]


def test_a_browser_session_from_a_token_ends_with_the_token(service: str) -> None:
    expires_in = 600
    bearer = token(exp=int(time.time()) + expires_in)
    response = httpx.post(f"{service}/signin/", data={"credential": bearer})
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    cookie = response.headers["set-cookie"]
    assert bearer not in cookie and bearer.split(".")[1] not in cookie
    max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
    assert expires_in - 60 <= max_age <= expires_in
    session = {SESSION_COOKIE: response.cookies[SESSION_COOKIE]}
    assert httpx.get(f"{service}/whoami", cookies=session).json() == {"user": "entra:0000-user-a"}


@pytest.mark.parametrize("refused", [{"scp": None}, GUEST_FROM_ANOTHER_TENANT])
def test_the_form_refuses_a_token_that_may_not_use_the_api(service: str, refused: dict) -> None:
    response = httpx.post(f"{service}/signin/", data={"credential": token(**refused)})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin/?failed=1")
    assert "set-cookie" not in response.headers


def test_an_api_with_app_roles_only_points_clients_to_its_default_scope() -> None:
    """Roles are granted to an application, which asks Entra ID for the API's `.default`."""
    verifier = EntraTokenVerifier(TENANT, "0000-app-id", roles=[ROLE])
    assert verifier.challenge_scope == "api://0000-app-id/.default"
