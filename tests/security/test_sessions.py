"""The browser's sign-in cookie: a signed, expiring session naming the user, never the key."""

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from security.keys import hash_api_key
from security.sessions import SESSION_COOKIE, SessionSigner, SignedIn
from tests.security.conftest import ALICE_KEY, BOB_KEY, make_settings, serve, whoami_app

SECRET = "a-session-secret-for-these-tests-only"
MAX_AGE = 3600


@contextmanager
def signin_app(**overrides: object) -> Iterator[str]:
    """The guards and the sign-in routes, with one API route that says who is calling."""
    app = whoami_app(make_settings(session_max_age_seconds=MAX_AGE, **overrides))
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with signin_app(session_secret=SECRET) as base:
        yield base


def session_of(url: str, credential: str) -> str:
    response = httpx.post(f"{url}/signin/", data={"credential": credential, "next": "/ui/"})
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    return response.cookies[SESSION_COOKIE]


def renamed(session: str, old: str, new: str) -> str:
    """The session with another user written into its payload, the signature kept."""
    payload, signature = session.split(".", 1)
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(
        old.encode(), new.encode()
    )
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode() + "." + signature


def whoami(url: str, session: str) -> httpx.Response:
    return httpx.get(f"{url}/whoami", cookies={SESSION_COOKIE: session})


def test_the_cookie_names_the_user_and_holds_no_credential(url: str) -> None:
    response = httpx.post(f"{url}/signin/", data={"credential": ALICE_KEY})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert ALICE_KEY not in cookie and "alice-key" not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and f"Max-Age={MAX_AGE}" in cookie
    assert whoami(url, response.cookies[SESSION_COOKIE]).json() == {"user": "alice"}


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"), id="tampered"),
        pytest.param(lambda s: renamed(s, "alice", "bob"), id="renamed"),
        pytest.param(lambda s: ALICE_KEY, id="the-key-itself"),
        pytest.param(
            lambda s: SessionSigner("another-secret", MAX_AGE).issue(
                SignedIn("alice", "api_key", 2**40)
            )[0],
            id="other-secret",
        ),
        pytest.param(
            lambda s: SessionSigner(SECRET, MAX_AGE).issue(
                SignedIn("alice", "api_key", int(time.time()) - 5)
            )[0],
            id="expired",
        ),
        pytest.param(
            lambda s: SessionSigner(SECRET, MAX_AGE).issue(SignedIn("carol", "api_key", 2**40))[0],
            id="unknown-key-name",
        ),
        pytest.param(
            lambda s: SessionSigner(SECRET, MAX_AGE).issue(
                SignedIn("entra:someone", "entra", 2**40)
            )[0],
            id="method-not-on",
        ),
    ],
)
def test_a_forged_tampered_or_expired_session_is_refused(url: str, forge) -> None:
    response = whoami(url, forge(session_of(url, ALICE_KEY)))
    assert response.status_code == 401
    assert response.json()["detail"] == "your sign-in has expired; sign in again"


def test_a_session_ends_with_its_key(url: str) -> None:
    """Removing a key from API_KEYS ends its sessions, even under a kept SESSION_SECRET."""
    alice, bob = session_of(url, ALICE_KEY), session_of(url, BOB_KEY)
    with signin_app(session_secret=SECRET, api_keys={"bob": hash_api_key(BOB_KEY)}) as other:
        assert whoami(other, alice).status_code == 401
        assert whoami(other, bob).json() == {"user": "bob"}


def test_without_a_secret_sessions_end_when_the_service_restarts() -> None:
    with signin_app() as first:
        session = session_of(first, ALICE_KEY)
        assert whoami(first, session).status_code == 200
    with signin_app() as restarted:
        assert whoami(restarted, session).status_code == 401


def test_signing_out_deletes_the_cookie(url: str) -> None:
    with httpx.Client(base_url=url) as browser:
        browser.post("/signin/", data={"credential": ALICE_KEY})
        assert browser.get("/whoami").status_code == 200
        response = browser.post("/signout")
        assert response.status_code == 303
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert browser.get("/whoami").status_code == 401
