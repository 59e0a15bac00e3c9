"""How an MCP client finds where to sign in (MCP's authorization, RFC 9728): with Microsoft
Entra ID on, a 401 or 403 from /mcp names the server's protected resource metadata, which names
the tenant as the authorization server and the scopes to ask it for. VS Code, for one, then
signs the user in with its Microsoft account and sends the token."""

from fastapi import Request
from fastapi.responses import JSONResponse
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.routing import Route

from security.entra import issuer, requestable_scopes
from security.links import Links
from settings import Settings

WELL_KNOWN = "/.well-known/oauth-protected-resource"


class ResourceMetadata:
    """The protected resource metadata of the MCP endpoint at `path`."""

    def __init__(self, settings: Settings, links: Links, path: str) -> None:
        assert settings.entra_tenant_id and settings.entra_audience
        self._authorization_server = issuer(settings.entra_tenant_id)
        self._scopes = requestable_scopes(settings.entra_audience, settings.entra_required_scopes)
        self._links = links
        self._path = path

    def route(self) -> Route:
        return Route(WELL_KNOWN + self._path, self._document, methods=["GET"])

    def challenge(self, request: Request, challenge: str) -> str:
        """`challenge` (a WWW-Authenticate value) naming the metadata's URL."""
        url = f"{self._links.base(request)}{WELL_KNOWN}{self._path}"
        return f'{challenge}, resource_metadata="{url}"'

    async def _document(self, request: Request) -> JSONResponse:
        metadata = ProtectedResourceMetadata(
            resource=AnyHttpUrl(f"{self._links.base(request)}{self._path}"),
            authorization_servers=[AnyHttpUrl(self._authorization_server)],
            scopes_supported=self._scopes or None,
            resource_name="Code interpreter (MCP)",
        )
        return JSONResponse(metadata.model_dump(mode="json", exclude_none=True))
