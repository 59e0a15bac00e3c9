"""The guards at LangServe's seam: every endpoint authenticated, the user id in the config."""

from collections.abc import Iterator

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langserve import add_routes

from security.guards import build_guards, install_security_middleware, run_slot
from tests.security.conftest import ALICE_KEY, BOB_KEY, make_settings, serve


async def with_user(config: dict, request: Request) -> dict:
    """What server.py's per_req_config_modifier does: the authenticated user into the config."""
    return {
        **config,
        "configurable": {**config.get("configurable", {}), "user": request.state.user},
    }


def whoami(message: str, config: RunnableConfig) -> str:
    return f"{config['configurable']['user']}: {message}"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = make_settings()
    app = FastAPI()
    app.state.guards = build_guards(settings)
    install_security_middleware(app, settings)
    add_routes(
        app,
        RunnableLambda(whoami).with_types(input_type=str, output_type=str),
        path="/echo",
        dependencies=[Depends(run_slot)],
        per_req_config_modifier=with_user,
    )
    with serve(app) as base:
        yield base


def test_the_authenticated_user_reaches_the_runnable(url: str) -> None:
    alice = httpx.post(f"{url}/echo/invoke", json={"input": "hi"}, headers={"X-API-Key": ALICE_KEY})
    bob = httpx.post(
        f"{url}/echo/invoke", json={"input": "hi"}, headers={"Authorization": f"Bearer {BOB_KEY}"}
    )
    assert alice.json()["output"] == "alice: hi"
    assert bob.json()["output"] == "bob: hi"


def test_a_client_cannot_claim_another_user_in_its_config(url: str) -> None:
    body = {"input": "hi", "config": {"configurable": {"user": "bob"}}}
    response = httpx.post(f"{url}/echo/invoke", json=body, headers={"X-API-Key": ALICE_KEY})
    assert response.json()["output"] == "alice: hi"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/echo/invoke"),
        ("POST", "/echo/batch"),
        ("POST", "/echo/stream"),
        ("POST", "/echo/stream_log"),
        ("GET", "/echo/input_schema"),
        ("GET", "/echo/playground/"),
    ],
)
def test_every_langserve_endpoint_needs_credentials(url: str, method: str, path: str) -> None:
    response = httpx.request(method, f"{url}{path}", json={"input": "hi", "inputs": ["hi"]})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_playground_opens_for_a_signed_in_user_with_its_own_policy(url: str) -> None:
    response = httpx.get(f"{url}/echo/playground/", headers={"X-API-Key": ALICE_KEY})
    assert response.status_code == 200
    assert "'unsafe-inline'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
