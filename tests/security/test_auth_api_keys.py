"""API keys over real HTTP: accepted in either header, compared by hash, refused clearly."""

import subprocess
import sys

import httpx
import pytest
from fastapi import Request

from security.auth import Authenticator, enabled_methods, is_direct_loopback
from settings import Settings
from tests.security.conftest import ALICE_KEY, BOB_KEY, make_settings, serve, whoami_app
from tests.support.servers import ROOT


def test_a_key_in_either_header_names_its_user() -> None:
    with serve(whoami_app(make_settings())) as url:
        as_bearer = httpx.get(f"{url}/whoami", headers={"Authorization": f"Bearer {ALICE_KEY}"})
        as_header = httpx.get(f"{url}/whoami", headers={"X-API-Key": BOB_KEY})
    assert as_bearer.json() == {"user": "alice"}
    assert as_header.json() == {"user": "bob"}


def test_no_key_gets_401_with_a_challenge_and_says_what_to_send() -> None:
    with serve(whoami_app(make_settings())) as url:
        response = httpx.get(f"{url}/whoami")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "X-API-Key" in response.json()["detail"]


def test_a_wrong_key_gets_401_without_echoing_it() -> None:
    wrong = ALICE_KEY[:-1] + "!"
    with serve(whoami_app(make_settings())) as url:
        response = httpx.get(f"{url}/whoami", headers={"Authorization": f"Bearer {wrong}"})
        huge = httpx.get(f"{url}/whoami", headers={"X-API-Key": "k" * 20_000})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert wrong not in response.text
    assert huge.status_code == 401


def test_unconfigured_auth_serves_direct_loopback_clients_only() -> None:
    with serve(whoami_app(make_settings(auth_mode="auto", api_keys={}))) as url:
        local = httpx.get(f"{url}/whoami")
        proxied = httpx.get(f"{url}/whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    assert local.json() == {"user": "anonymous"}
    assert proxied.status_code == 401
    assert "API_KEYS" in proxied.json()["detail"]


def test_auto_mode_requires_keys_once_they_are_configured_even_on_loopback() -> None:
    with serve(whoami_app(make_settings(auth_mode="auto"))) as url:
        assert httpx.get(f"{url}/whoami").status_code == 401


def _request_from(host: str, headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "client": (host, 50000), "headers": raw})


def test_only_loopback_peers_without_proxy_headers_count_as_local() -> None:
    assert is_direct_loopback(_request_from("127.0.0.1"))
    assert is_direct_loopback(_request_from("::1"))
    assert is_direct_loopback(_request_from("::ffff:127.0.0.1"))
    assert not is_direct_loopback(_request_from("10.1.2.3"))
    assert not is_direct_loopback(_request_from("127.0.0.1", {"Forwarded": "for=1.2.3.4"}))
    assert not is_direct_loopback(_request_from("testclient"))


@pytest.mark.parametrize(
    ("mode", "fields", "missing"),
    [
        ("api_key", {"api_keys": {}}, "API_KEYS"),
        ("entra", {"entra_tenant_id": "t"}, "ENTRA_AUDIENCE"),
        ("both", {"api_keys": {}, "entra_tenant_id": "t", "entra_audience": "a"}, "API_KEYS"),
    ],
)
def test_a_mode_without_its_credentials_refuses_to_start(mode, fields, missing) -> None:
    settings = make_settings(auth_mode=mode, **{"api_keys": {"a": "0" * 64}, **fields})
    with pytest.raises(ValueError, match=missing):
        Authenticator(settings)


def test_off_mode_and_auto_without_credentials_enable_nothing() -> None:
    assert enabled_methods(make_settings(auth_mode="off")) == frozenset()
    assert enabled_methods(make_settings(auth_mode="auto", api_keys={})) == frozenset()


def test_a_key_made_by_the_helper_signs_in_as_its_user(monkeypatch) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "security.keys", "carol"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = out.splitlines()[0].rsplit(" ", 1)[1]
    entry = out.splitlines()[1].removeprefix("API_KEYS entry: ")
    monkeypatch.setenv("API_KEYS", entry)
    monkeypatch.setenv("AUTH_MODE", "api_key")
    with serve(whoami_app(Settings(_env_file=None))) as url:
        response = httpx.get(f"{url}/whoami", headers={"X-API-Key": key})
    assert response.json() == {"user": "carol"}
