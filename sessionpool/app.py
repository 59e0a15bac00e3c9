"""The HTTP API: the dynamic-sessions routes, matched on the path suffix after any prefix."""

import asyncio
import hmac
import json
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import unquote

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sessionpool import files, metadata, schemas
from sessionpool.pool import Execution, Pool, Session, SessionLimitError
from sessionpool.sandbox import Sandbox, SandboxError
from sessionpool.settings import PoolSettings

log = logging.getLogger("sessionpool")

IDENTIFIER = re.compile(r"[\x21-\x7e]{4,128}")
OUTPUT_CEILING = 1_048_576
MIB = 1024 * 1024


class ApiError(Exception):
    """An error answer: Azure's body, `x-ms-error-code`, optional headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


@dataclass
class Call:
    """One routed request: what the handlers need."""

    request: Request
    api_version: str
    identifier: str | None
    match: re.Match

    @property
    def generation(self) -> int:
        return 1 if self.api_version in schemas.GENERATION_1 else 2


Handler = Callable[["Api", Call], Awaitable[Response]]


@dataclass
class RouteSpec:
    method: str
    pattern: re.Pattern
    handler: Handler
    versions: tuple[str, ...]
    needs_identifier: bool = True


def _suffix(pattern: str) -> re.Pattern:
    return re.compile(r"(?:^|/)" + pattern + r"$")


class Api:
    """The handlers, bound to one pool."""

    def __init__(self, settings: PoolSettings, pool: Pool) -> None:
        self.settings = settings
        self.pool = pool
        self._key = settings.api_key.get_secret_value().encode()
        self._background: set[asyncio.Task] = set()

    # --- plumbing ------------------------------------------------------------------------

    def authorize(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "Unauthorized",
                "an Authorization: Bearer <key> header is required",
                {"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(token.strip().encode(), self._key):
            raise ApiError(403, "Forbidden", "the bearer key is not valid for this pool")

    async def dispatch(self, request: Request) -> Response:
        self.authorize(request)
        api_version = request.query_params.get("api-version")
        if api_version not in schemas.API_VERSIONS:
            supported = ", ".join(schemas.API_VERSIONS)
            raise ApiError(
                400,
                "InvalidApiVersion",
                f"api-version {api_version!r} is not supported; supported: {supported}",
            )
        path = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        path = path.rstrip("/")
        spec, match = _find_route(request.method, path, api_version)
        identifier = request.query_params.get("identifier")
        if spec.needs_identifier or identifier is not None:
            identifier = _check_identifier(identifier)
        return await spec.handler(self, Call(request, api_version, identifier, match))

    async def _session(self, call: Call) -> Session:
        return await self.pool.session(call.identifier)

    def _existing(self, call: Call) -> Session | None:
        return self.pool.sessions.get(call.identifier)

    # --- code ----------------------------------------------------------------------------

    async def _parse_execution(self, call: Call) -> schemas.ExecutionRequest:
        body = await _json_body(call.request, 4 * self.settings.max_code_bytes + 65536)
        if call.generation == 1 and isinstance(body.get("properties"), dict):
            body = body["properties"]
        if not isinstance(body.get("code"), str):
            raise ApiError(400, "MissingCode", "the request body needs a string `code`")
        if len(body["code"].encode()) > self.settings.max_code_bytes:
            raise ApiError(
                413,
                "CodeTooLarge",
                f"code is larger than {self.settings.max_code_bytes} bytes",
            )
        try:
            return schemas.ExecutionRequest.model_validate(body)
        except ValidationError as error:
            raise ApiError(400, "InvalidRequestBody", _first_error(error)) from error

    async def _run(self, session: Session, request: schemas.ExecutionRequest):
        timeout = min(
            request.timeout_in_seconds or self.settings.timeout_seconds,
            self.settings.timeout_seconds,
        )
        limit = request.output_streams_max_length
        limit = self.settings.output_max_length if limit is None else min(limit, OUTPUT_CEILING)
        return await self.pool.execute(session, request.code, timeout, limit)

    async def execute_gen1(self, call: Call) -> Response:
        request = await self._parse_execution(call)
        session = await self._session(call)
        outcome = await self._run(session, request)
        return JSONResponse(schemas.gen1_execution(outcome))

    async def execute_gen2(self, call: Call) -> Response:
        request = await self._parse_execution(call)
        session = await self._session(call)
        execution = Execution(str(uuid.uuid4()), request.execution_type)
        session.remember(execution)
        headers = {
            "operation-id": execution.id,
            "Operation-Location": _operation_location(call, execution.id),
        }
        if request.execution_type == "asynchronous":
            task = asyncio.create_task(self._run_later(session, request, execution))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            body = schemas.gen2_execution(execution.id, session.identifier, "asynchronous", None)
            return JSONResponse(body, 202, headers)
        execution.outcome = await self._run(session, request)
        status = 202 if call.api_version == "2024-10-02-preview" else 200
        body = schemas.gen2_execution(
            execution.id, session.identifier, "synchronous", execution.outcome
        )
        return JSONResponse(body, status, headers)

    async def _run_later(self, session, request, execution: Execution) -> None:
        execution.outcome = await self._run(session, request)

    async def get_execution(self, call: Call) -> Response:
        session = self._existing(call)
        execution_id = unquote(call.match["id"])
        execution = session.executions.get(execution_id) if session else None
        if execution is None:
            raise ApiError(404, "ExecutionNotFound", f"no execution {execution_id!r}")
        body = schemas.gen2_execution(
            execution.id, session.identifier, execution.execution_type, execution.outcome
        )
        return JSONResponse(body)

    async def interrupt(self, call: Call) -> Response:
        return JSONResponse({"interrupted": await self.pool.interrupt(call.identifier)})

    # --- files ---------------------------------------------------------------------------

    async def upload(self, call: Call) -> Response:
        folder = call.request.query_params.get("path", "/mnt/data").rstrip("/")
        if folder not in ("", "/mnt/data"):
            raise ApiError(400, "InvalidPath", "files can only go directly into /mnt/data")
        limit = self.settings.max_upload_mb * MIB
        declared = call.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + MIB:
            raise ApiError(413, "FileTooLarge", f"uploads are limited to {limit // MIB} MB")
        upload = await _form_file(call.request, limit)
        name = _clean(upload.filename or "")
        session = await self._session(call)
        owner = session.kernel.host_uid if os.geteuid() == 0 else None
        try:
            info = await asyncio.to_thread(
                files.write_file, session.kernel.handles.data_fd, name, upload.file, owner
            )
        except files.DiskFullError as error:
            raise ApiError(
                413, "SessionDiskFull", f"/mnt/data is full ({self.settings.disk_mb} MiB)"
            ) from error
        finally:
            await upload.close()
        if call.generation == 1:
            return JSONResponse(schemas.gen1_files([info]))
        return JSONResponse(schemas.gen2_file(info))

    async def list_files(self, call: Call) -> Response:
        session = self._existing(call)
        infos = []
        if session is not None:
            infos = await asyncio.to_thread(files.list_files, session.kernel.handles.data_fd)
        if call.generation == 1:
            return JSONResponse(schemas.gen1_files(infos))
        return JSONResponse(schemas.gen2_files(infos))

    async def _file(self, call: Call, action: Callable):
        name = _clean(unquote(call.match["name"]))
        session = self._existing(call)
        if session is None:
            raise ApiError(404, "FileNotFound", f"no file {name!r} in /mnt/data")
        try:
            return name, await asyncio.to_thread(action, session.kernel.handles.data_fd, name)
        except files.FileMissingError as error:
            raise ApiError(404, "FileNotFound", f"no file {name!r} in /mnt/data") from error

    async def download(self, call: Call) -> Response:
        name, content = await self._file(call, files.read_file)
        return Response(content, media_type=files.content_type(name))

    async def file_info(self, call: Call) -> Response:
        _, info = await self._file(call, files.stat_file)
        return JSONResponse(schemas.gen2_file(info))

    async def delete_file(self, call: Call) -> Response:
        await self._file(call, files.delete_file)
        return Response(status_code=204)

    # --- sessions ------------------------------------------------------------------------

    def _session_body(self, session: Session) -> dict:
        return {
            "identifier": session.identifier,
            "createdAt": self.pool.timestamp(session.created),
            "lastAccessedAt": self.pool.timestamp(session.last_used),
            "expireAt": self.pool.timestamp(self.pool.expires_at(session)),
            "etag": session.etag,
        }

    async def get_session(self, call: Call) -> Response:
        session = self._existing(call)
        if session is None:
            raise ApiError(404, "SessionNotFound", f"no session {call.identifier!r}")
        return JSONResponse(self._session_body(session))

    async def delete_session(self, call: Call) -> Response:
        await self.pool.delete(call.identifier)
        return Response(status_code=204)

    async def list_sessions(self, call: Call) -> Response:
        sessions = [self._session_body(s) for s in self.pool.sessions.values()]
        return JSONResponse({"sessions": sessions, "nextLink": None})

    async def metadata(self, call: Call) -> Response:
        return JSONResponse(await asyncio.to_thread(metadata.describe))

    async def health(self, request: Request) -> Response:
        sandbox = self.pool.sandbox
        return JSONResponse(
            {
                "status": "ok",
                "isolation": sandbox.isolation,
                "layers": [name for name, on in sandbox.layers.items() if on],
                "sessions": self.pool.counts(),
                "maxSessions": self.settings.max_sessions,
            }
        )


G1, G2, SESSIONS, ALL = (
    schemas.GENERATION_1,
    schemas.GENERATION_2,
    schemas.SESSION_API,
    schemas.API_VERSIONS,
)
ROUTES = [
    RouteSpec("POST", _suffix("code/execute"), Api.execute_gen1, G1),
    RouteSpec("POST", _suffix("files/upload"), Api.upload, G1),
    RouteSpec("GET", _suffix("files"), Api.list_files, G1),
    RouteSpec("GET", _suffix("files/content/(?P<name>.+)"), Api.download, G1),
    RouteSpec("POST", _suffix("executions"), Api.execute_gen2, G2),
    RouteSpec("GET", _suffix("executions/(?P<id>[^/]+)"), Api.get_execution, G2),
    RouteSpec("POST", _suffix("files"), Api.upload, G2),
    RouteSpec("GET", _suffix("files"), Api.list_files, G2),
    RouteSpec("GET", _suffix("files/(?P<name>.+)/content"), Api.download, G2),
    RouteSpec("GET", _suffix("files/(?P<name>.+)"), Api.file_info, G2),
    RouteSpec("DELETE", _suffix("files/(?P<name>.+)"), Api.delete_file, G2),
    RouteSpec("POST", _suffix("session/interrupt"), Api.interrupt, ALL),
    RouteSpec("GET", _suffix("session"), Api.get_session, SESSIONS),
    RouteSpec("DELETE", _suffix("session"), Api.delete_session, SESSIONS),
    RouteSpec("GET", _suffix("listSessions"), Api.list_sessions, SESSIONS, False),
    RouteSpec("GET", _suffix("metadata"), Api.metadata, SESSIONS, False),
]


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
        message = f"no route for {method} {path}"
    raise ApiError(404, "RouteNotFound", message)


def _check_identifier(identifier: str | None) -> str:
    if identifier is None:
        raise ApiError(400, "MissingIdentifier", "the `identifier` query parameter is required")
    if not IDENTIFIER.fullmatch(identifier):
        raise ApiError(
            400,
            "InvalidIdentifier",
            "identifier must be 4 to 128 printable ASCII characters without spaces",
        )
    return identifier


def _clean(name: str) -> str:
    try:
        return files.clean_name(name)
    except files.FileNameError as error:
        raise ApiError(400, "InvalidFileName", str(error)) from error


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"


async def _json_body(request: Request, limit: int) -> dict:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "RequestTooLarge", f"the body is larger than {limit} bytes")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "InvalidRequestBody", f"the body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ApiError(400, "InvalidRequestBody", "the body must be a JSON object")
    return value


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit + MIB:
            raise ApiError(413, "FileTooLarge", f"uploads are limited to {limit // MIB} MB")
        yield chunk


async def _form_file(request: Request, limit: int):
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(400, "InvalidRequestBody", "upload with multipart/form-data, field `file`")
    parser = MultiPartParser(
        request.headers, _limited(request.stream(), limit), max_files=1, max_fields=16
    )
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise ApiError(400, "InvalidRequestBody", error.message) from error
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ApiError(400, "InvalidRequestBody", "the form needs a file in the field `file`")
    if upload.size is not None and upload.size > limit:
        await upload.close()
        raise ApiError(413, "FileTooLarge", f"uploads are limited to {limit // MIB} MB")
    return upload


def _operation_location(call: Call, execution_id: str) -> str:
    url = call.request.url
    base = str(url.replace(query="")).rstrip("/")
    query = f"identifier={call.identifier}&api-version={call.api_version}"
    return f"{base}/{execution_id}?{query}"


def _error_response(error: ApiError) -> Response:
    headers = {"x-ms-error-code": error.code, **error.headers}
    return JSONResponse(schemas.error_body(error.code, error.message), error.status, headers)


def create_pool_app(settings: PoolSettings, on_ready: Callable[[Pool], None] | None = None):
    """The ASGI app; its lifespan starts the sandbox and stops every session on shutdown."""
    pool = Pool(settings, Sandbox(settings))
    api = Api(settings, pool)

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
            return await api.dispatch(request)
        except ApiError as error:
            return _error_response(error)
        except SessionLimitError as error:
            headers = {"Retry-After": str(error.retry_after)}
            return _error_response(ApiError(429, "SessionLimitReached", str(error), headers))
        except SandboxError as error:
            log.error("could not start a session: %s", error)
            return _error_response(ApiError(503, "SessionUnavailable", str(error)))
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            message = "the pool failed unexpectedly; see its log"
            return _error_response(ApiError(500, "InternalServerError", message))

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/healthz", api.health, methods=["GET"]),
        Route("/{path:path}", endpoint, methods=methods),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.pool = pool
    return app
