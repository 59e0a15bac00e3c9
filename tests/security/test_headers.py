"""Security headers on pages and errors, and CORS only for configured origins."""

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from security.guards import install_security_middleware
from security.headers import check_origins
from tests.security.conftest import make_settings, serve

ALLOWED = "https://chat.example.com"


def page_app(**overrides: object) -> FastAPI:
    app = FastAPI()
    install_security_middleware(app, make_settings(**overrides))

    @app.get("/ui/")
    async def ui() -> HTMLResponse:
        return HTMLResponse("<html><script src='app.js'></script></html>")

    @app.get("/chat/playground/")
    async def playground() -> HTMLResponse:
        return HTMLResponse("<script>window.X = 1</script>")

    @app.post("/chat/invoke")
    async def invoke() -> dict:
        return {"output": "hi"}

    return app


def test_the_page_gets_a_strict_policy_and_the_usual_headers() -> None:
    with serve(page_app()) as url:
        response = httpx.get(f"{url}/ui/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_the_playground_may_run_its_inline_script_but_not_be_framed() -> None:
    with serve(page_app()) as url:
        csp = httpx.get(f"{url}/chat/playground/").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in csp
    assert "frame-ancestors 'none'" in csp


def test_errors_carry_the_headers_too() -> None:
    with serve(page_app(max_request_bytes=10)) as url:
        response = httpx.post(f"{url}/chat/invoke", content=b"x" * 100)
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"


def test_cors_answers_configured_origins_only_and_never_with_credentials() -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    with serve(page_app(cors_allow_origins=[ALLOWED])) as url:
        allowed = httpx.options(f"{url}/chat/invoke", headers={"Origin": ALLOWED, **preflight})
        other = httpx.options(
            f"{url}/chat/invoke", headers={"Origin": "https://evil.example", **preflight}
        )
        simple = httpx.post(f"{url}/chat/invoke", headers={"Origin": ALLOWED})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    assert "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == ALLOWED


def test_no_cors_unless_configured() -> None:
    with serve(page_app()) as url:
        response = httpx.post(f"{url}/chat/invoke", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("origin", ["https://a.example/", "chat.example.com", "null", "ftp://x"])
def test_malformed_origins_are_refused_at_start(origin: str) -> None:
    with pytest.raises(ValueError, match="CORS_ALLOW_ORIGINS"):
        check_origins([origin])


def test_cors_lets_pages_name_and_read_a_conversation_and_an_mcp_session() -> None:
    preflight = {
        "Origin": ALLOWED,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-conversation-id, mcp-session-id, mcp-protocol-version",
    }
    with serve(page_app(cors_allow_origins=[ALLOWED])) as url:
        allowed = httpx.options(f"{url}/v1/chat/completions", headers=preflight)
        simple = httpx.post(f"{url}/chat/invoke", headers={"Origin": ALLOWED})
    assert allowed.status_code == 200
    exposed = simple.headers["access-control-expose-headers"].lower()
    assert "x-conversation-id" in exposed and "mcp-session-id" in exposed
