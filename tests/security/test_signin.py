"""Signing in from a browser: the form, its HttpOnly cookie, and the pages it opens."""

from collections.abc import Iterator

import httpx
import pytest

from tests.security.conftest import ALICE_KEY, serve_keyed_service

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def url(session_pool, tmp_path_factory) -> Iterator[str]:
    with serve_keyed_service(session_pool, tmp_path_factory.mktemp("signin-data")) as base:
        yield base


def sign_in(url: str, credential: str, next_path: str = "") -> httpx.Response:
    form = {"credential": credential, "next": next_path}
    return httpx.post(f"{url}/signin/", data=form, follow_redirects=False)


@pytest.mark.parametrize("path", ["/ui/", "/chat/playground/", "/agent/playground/"])
def test_a_browser_without_credentials_is_sent_to_the_form(url: str, path: str) -> None:
    response = httpx.get(f"{url}{path}", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == f"/signin/?next={path}"


def test_api_calls_without_credentials_still_get_401(url: str) -> None:
    response = httpx.get(f"{url}/ui/app.js")
    assert response.status_code == 401 and "authentication required" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_form_is_public(url: str) -> None:
    form = httpx.get(f"{url}/signin/")
    assert form.status_code == 200 and 'name="credential"' in form.text
    assert httpx.get(f"{url}/signin/signin.js").status_code == 200


def test_a_wrong_credential_goes_back_to_the_form_without_a_cookie(url: str) -> None:
    response = sign_in(url, "not-a-key", "/ui/")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin/?failed=1&next=/ui/"
    assert "set-cookie" not in response.headers


def test_signing_in_opens_the_page_the_playground_and_the_api(url: str) -> None:
    response = sign_in(url, ALICE_KEY, "/chat/playground/")
    cookie = response.headers["set-cookie"]
    assert response.status_code == 303 and response.headers["location"] == "/chat/playground/"
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie

    with httpx.Client(base_url=url, cookies=response.cookies, timeout=60) as browser:
        assert browser.get("/ui/", headers=HTML).status_code == 200
        assert browser.get("/chat/playground/", headers=HTML).status_code == 200
        body = {"input": {"message": "what is 2 + 3?"}}
        body["config"] = {"configurable": {"conversation_id": "cookie-1"}}
        assert browser.post("/chat/invoke", json=body).status_code == 200
        assert "cookie-1" in [c["id"] for c in browser.get("/conversations").json()]

        signed_out = browser.post("/signout")
        assert signed_out.status_code == 303
        assert browser.get("/ui/", headers=HTML).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_after_signing_in_the_redirect_stays_on_this_site(url: str, target: str) -> None:
    assert sign_in(url, ALICE_KEY, target).headers["location"] == "/ui/"
