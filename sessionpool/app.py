"""The HTTP API: the dynamic-sessions routes, matched on the path suffix after any prefix."""

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sessionpool import http, schemas
from sessionpool.handlers import Api, Call
from sessionpool.pool import Pool, SessionLimitError
from sessionpool.sandbox import Sandbox, SandboxError
from sessionpool.settings import PoolSettings

log = logging.getLogger("sessionpool")

Handler = Callable[["Api", Call], Awaitable[Response]]


@dataclass
class RouteSpec:
    """One route: `path` is matched as the suffix of the request's path, after any prefix."""

    method: str
    path: str
    handler: Handler
    versions: tuple[str, ...]
    needs_identifier: bool = True

    def __post_init__(self) -> None:
        pattern = re.escape(self.path).replace(r"\{name\}", "(?P<name>.+)")
        pattern = pattern.replace(r"\{id\}", "(?P<id>[^/]+)")
        self.pattern = re.compile(r"(?:^|/)" + pattern + r"$")


G1, G2, SESSIONS, LATEST, ALL = (
    schemas.GENERATION_1,
    schemas.GENERATION_2,
    schemas.SESSION_API,
    schemas.LATEST,
    schemas.API_VERSIONS,
)
ROUTES = [
    RouteSpec("POST", "code/execute", Api.execute_gen1, G1),
    RouteSpec("POST", "files/upload", Api.upload, G1),
    RouteSpec("GET", "files", Api.list_files, G1),
    RouteSpec("GET", "files/content/{name}", Api.download, G1),
    RouteSpec("POST", "executions", Api.execute_gen2, G2),
    RouteSpec("GET", "executions/{id}", Api.get_execution, G2),
    RouteSpec("POST", "files", Api.upload, G2),
    RouteSpec("GET", "files", Api.list_files, G2),
    RouteSpec("GET", "files/{name}/content", Api.download, G2),
    RouteSpec("GET", "files/{name}", Api.file_info, G2),
    RouteSpec("DELETE", "files/{name}", Api.delete_file, G2),
    RouteSpec("GET", "session", Api.get_session, SESSIONS),
    RouteSpec("DELETE", "session", Api.delete_session, SESSIONS),
    RouteSpec("GET", "listSessions", Api.list_sessions, SESSIONS, False),
    RouteSpec("GET", "metadata", Api.metadata, SESSIONS, False),
    RouteSpec("POST", ".management/stopSession", Api.stop_session, LATEST),
    # Local extensions, in every api-version: see the README.
    RouteSpec("POST", "session/interrupt", Api.interrupt, ALL),
    RouteSpec("GET", "session/outputs", Api.outputs, ALL),
]
LEGACY = {
    "python/execute": "the route of an early preview that Azure no longer documents nor "
    "answers (its clients moved to code/execute and executions)",
}


def _find_route(method: str, path: str, api_version: str) -> tuple[RouteSpec, re.Match]:
    elsewhere = []
    for spec in ROUTES:
        match = spec.pattern.search(path)
        if match is None or spec.method != method:
            continue
        if api_version in spec.versions:
            return spec, match
        elsewhere.append(spec.versions[0])
    if elsewhere:
        message = (
            f"{method} {path} is not part of api-version {api_version}; it is in {elsewhere[0]}"
        )
    else:
        legacy = next((why for route, why in LEGACY.items() if path.endswith(route)), None)
        served = ", ".join(f"{s.method} {s.path}" for s in ROUTES if api_version in s.versions)
        message = f"no route for {method} {path}"
        message += f": {legacy}" if legacy else ""
        message += f"; api-version {api_version} serves {served}"
    raise http.ApiError(404, "RouteNotFound", message)


def create_pool_app(settings: PoolSettings, on_ready: Callable[[Pool], None] | None = None):
    """The ASGI app; its lifespan starts the sandbox and stops every session on shutdown."""
    pool = Pool(settings, Sandbox(settings))
    api = Api(settings, pool)
    key = settings.api_key.get_secret_value().encode()

    async def dispatch(request: Request) -> Response:
        http.authorize(request, key)
        api_version = request.query_params.get("api-version")
        if api_version not in schemas.API_VERSIONS:
            supported = ", ".join(schemas.API_VERSIONS)
            message = f"api-version {api_version!r} is not supported; supported: {supported}"
            raise http.ApiError(400, "InvalidApiVersion", message)
        path = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        spec, match = _find_route(request.method, path.rstrip("/"), api_version)
        identifier = request.query_params.get("identifier")
        if spec.needs_identifier or identifier is not None:
            identifier = http.check_identifier(identifier)
        return await spec.handler(api, Call(request, api_version, identifier, match))

    @asynccontextmanager
    async def lifespan(app):
        await pool.start()
        if on_ready is not None:
            on_ready(pool)
        try:
            yield
        finally:
            await pool.stop()

    async def endpoint(request: Request) -> Response:
        try:
            return await dispatch(request)
        except http.ApiError as error:
            return http.error_response(error)
        except SessionLimitError as error:
            headers = {"Retry-After": str(error.retry_after)}
            return http.error_response(
                http.ApiError(429, "SessionLimitReached", str(error), headers)
            )
        except SandboxError as error:
            log.error("could not start a session: %s", error)
            return http.error_response(http.ApiError(503, "SessionUnavailable", str(error)))
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            message = "the pool failed unexpectedly; see its log"
            return http.error_response(http.ApiError(500, "InternalServerError", message))

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/healthz", api.health, methods=["GET"]),
        Route("/{path:path}", endpoint, methods=methods),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _routing_error},
        middleware=[Middleware(http.InstanceHeader, instance=secrets.token_hex(8))],
    )
    app.state.pool = pool
    return app


async def _routing_error(request: Request, error: Exception) -> Response:
    # What the catch-all route cannot take (a path with a newline, an unlisted method) still
    # gets Azure's JSON error body rather than Starlette's plain text.
    message = f"no route for {request.method} {request.url.path}"
    status = error.status_code if isinstance(error, HTTPException) else 404
    return http.error_response(http.ApiError(status, "RouteNotFound", message))
