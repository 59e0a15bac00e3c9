"""Signing in to /mcp with Microsoft Entra ID as MCP's authorization spec has clients do it:
a refusal names the protected resource metadata (RFC 9728), which names the tenant and the
scopes to ask for; a token from there opens an MCP session with the official client."""

from collections.abc import Iterator

import httpx
import httpx2
import pytest
from mcp.client.auth.utils import (
    extract_resource_metadata_from_www_auth,
    extract_scope_from_www_auth,
)
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import ProtectedResourceMetadata

from tests.security.conftest import ALICE_KEY, serve
from tests.security.test_auth_entra import (
    AUDIENCE,
    ISSUER_V2,
    SCOPE,
    JwksServer,
    entra_settings,
    jwks,  # noqa: F401  (the fixture)
    token,
)
from tests.support.aio import run_async

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}


@pytest.fixture(scope="module")
def url(jwks: JwksServer, session_pool, tmp_path_factory) -> Iterator[str]:  # noqa: F811
    from server import create_app

    settings = entra_settings(
        jwks.url,
        pool_management_endpoint=session_pool.endpoint,
        session_pool_api_key=session_pool.api_key,
        data_dir=tmp_path_factory.mktemp("mcp-sign-in"),
    )
    with serve(create_app(settings), lifespan="on") as base:
        yield base


def test_a_refusal_names_where_to_sign_in(url):
    refused = httpx.post(f"{url}/mcp", json=INITIALIZE, timeout=30)
    assert refused.status_code == 401
    metadata_url = extract_resource_metadata_from_www_auth(refused)
    assert metadata_url == f"{url}/.well-known/oauth-protected-resource/mcp"

    metadata = ProtectedResourceMetadata.model_validate(httpx.get(metadata_url).json())
    assert str(metadata.resource) == f"{url}/mcp"  # the URL the client dialed, as RFC 9728 asks
    assert [str(server) for server in metadata.authorization_servers] == [ISSUER_V2]
    assert metadata.scopes_supported == [f"{AUDIENCE}/{SCOPE}"]

    # A token that lacks the scope is refused with the same pointer (and the scope it needs).
    bearer = {"Authorization": f"Bearer {token(scp='other')}"}
    forbidden = httpx.post(f"{url}/mcp", json=INITIALIZE, headers=bearer, timeout=30)
    assert forbidden.status_code == 403
    assert extract_resource_metadata_from_www_auth(forbidden) == metadata_url
    assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]
    # The client asks Entra ID for what the challenge names: the scope by its full name.
    assert extract_scope_from_www_auth(forbidden) == f"{AUDIENCE}/{SCOPE}"


def test_a_token_with_the_scope_opens_an_mcp_session(url):
    async def list_tools(bearer: str) -> list[str]:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"})
        async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http)) as mcp:
            return [tool.name for tool in (await mcp.list_tools()).tools]

    assert "run_python" in run_async(list_tools(token()))
    assert "run_python" in run_async(list_tools(ALICE_KEY))  # API keys still work beside it


def test_without_entra_there_is_no_metadata(session_pool, tmp_path):
    from server import create_app
    from tests.security.conftest import make_settings

    settings = make_settings(
        pool_management_endpoint=session_pool.endpoint,
        session_pool_api_key=session_pool.api_key,
        data_dir=tmp_path,
    )
    with serve(create_app(settings)) as base:
        refused = httpx.post(f"{base}/mcp", json=INITIALIZE, timeout=30)
        assert refused.status_code == 401
        assert extract_resource_metadata_from_www_auth(refused) is None
        assert httpx.get(f"{base}/.well-known/oauth-protected-resource/mcp").status_code == 404
