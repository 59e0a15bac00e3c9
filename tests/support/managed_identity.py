"""The managed-identity endpoint of an Azure Container App, on 127.0.0.1.

Container Apps give an app's code IDENTITY_ENDPOINT and IDENTITY_HEADER; azure-identity's
ManagedIdentityCredential (inside DefaultAzureCredential) asks that endpoint for a token
for a resource, naming the user-assigned identity by `client_id`. This server answers as the
platform does, with a JWT whose audience, issuer and lifetime are those of Entra ID's tokens
(unsigned: the storage emulator checks only those claims), and records each request.
"""

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class ManagedIdentityEndpoint:
    """`env` is what the platform sets; `requests` the query of each token request."""

    def __init__(self) -> None:
        self.header = secrets.token_hex(16)
        self.requests: list[dict] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def env(self) -> dict[str, str]:
        port = self._server.server_address[1]
        return {
            "IDENTITY_ENDPOINT": f"http://127.0.0.1:{port}/msi/token",
            "IDENTITY_HEADER": self.header,
        }

    def __enter__(self) -> "ManagedIdentityEndpoint":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _token(resource: str, client_id: str) -> tuple[str, int]:
    now = int(time.time())
    claims = {
        "aud": resource.rstrip("/"),
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now,
        "nbf": now - 60,
        "exp": now + 3600,
        "appid": client_id,
        "oid": client_id,
        "tid": TENANT,
    }
    return jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256"), now + 3600


def _handler_for(endpoint: ManagedIdentityEndpoint):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            endpoint.requests.append(query)
            if self.headers.get("X-IDENTITY-HEADER") != endpoint.header:
                self._answer(401, {"error": "missing or wrong X-IDENTITY-HEADER"})
                return
            token, expires_on = _token(query.get("resource", ""), query.get("client_id", ""))
            self._answer(
                200,
                {
                    "access_token": token,
                    "expires_on": str(expires_on),
                    "resource": query.get("resource", ""),
                    "token_type": "Bearer",
                    "client_id": query.get("client_id", ""),
                },
            )

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    return Handler
