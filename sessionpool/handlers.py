"""The handlers of the dynamic-sessions routes, bound to one pool."""

import asyncio
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlencode

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from sessionpool import files, http, metadata, schemas
from sessionpool.pool import Pool
from sessionpool.session import Execution, Session
from sessionpool.settings import PoolSettings

OUTPUT_CEILING = 1_048_576


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


class Api:
    """The handlers, bound to one pool."""

    def __init__(self, settings: PoolSettings, pool: Pool) -> None:
        self.settings = settings
        self.pool = pool
        self._background: set[asyncio.Task] = set()

    async def _session(self, call: Call) -> Session:
        return await self.pool.session(call.identifier)

    def _existing(self, call: Call) -> Session | None:
        return self.pool.sessions.get(call.identifier)

    # --- code ----------------------------------------------------------------------------

    async def _parse_execution(self, call: Call) -> schemas.ExecutionRequest:
        body = await http.json_body(call.request, 4 * self.settings.max_code_bytes + 65536)
        if call.generation == 1 and isinstance(body.get("properties"), dict):
            body = body["properties"]
        if not isinstance(body.get("code"), str):
            raise http.ApiError(400, "MissingCode", "the request body needs a string `code`")
        if len(body["code"].encode(errors="surrogatepass")) > self.settings.max_code_bytes:
            raise http.ApiError(
                413,
                "CodeTooLarge",
                f"code is larger than {self.settings.max_code_bytes} bytes",
            )
        try:
            return schemas.ExecutionRequest.model_validate(body)
        except ValidationError as error:
            raise http.ApiError(400, "InvalidRequestBody", http.first_error(error)) from error

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
            raise http.ApiError(404, "ExecutionNotFound", f"no execution {execution_id!r}")
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
            raise http.ApiError(400, "InvalidPath", "files can only go directly into /mnt/data")
        limit = self.settings.max_upload_mb * http.MIB
        declared = call.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + http.MIB:
            raise http.ApiError(
                413, "FileTooLarge", f"uploads are limited to {limit // http.MIB} MB"
            )
        upload = await http.form_file(call.request, limit)
        try:
            name = http.clean_file_name(upload.filename or "")
            session = await self._session(call)
            owner = session.kernel.host_uid if os.geteuid() == 0 else None
            info = await _in_folder(session, name, files.write_file, name, upload.file, owner)
        finally:
            await upload.close()
        if call.generation == 1:
            return JSONResponse(schemas.gen1_files([info]))
        return JSONResponse(schemas.gen2_file(info))

    async def list_files(self, call: Call) -> Response:
        session = self._existing(call)
        infos = []
        if session is not None:
            infos = await _in_folder(session, "", files.list_files)
        if call.generation == 1:
            return JSONResponse(schemas.gen1_files(infos))
        return JSONResponse(schemas.gen2_files(infos))

    async def _file(self, call: Call, action: Callable):
        # A name's bytes that are not UTF-8 stay bytes (as os.fsdecode keeps them).
        name = http.clean_file_name(unquote(call.match["name"], errors="surrogateescape"))
        session = self._existing(call)
        if session is None:
            raise http.file_error(files.FileMissingError(name), name)
        return name, await _in_folder(session, name, action, name)

    async def download(self, call: Call) -> Response:
        """Streamed from the file: the pool never holds more than a chunk of it."""
        name, (fd, size) = await self._file(call, files.open_download)
        return StreamingResponse(
            files.chunks(fd, size),
            media_type=files.content_type(name),
            headers={"Content-Length": str(size)},
        )

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
            raise http.ApiError(404, "SessionNotFound", f"no session {call.identifier!r}")
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
                "missingLayers": sandbox.missing_layers(),
                "bounded": sandbox.resources.bounded,
                "notBounded": sandbox.resources.unbounded,
                "sessions": self.pool.counts(),
                "maxSessions": self.pool.max_sessions,
            }
        )


async def _in_folder(session: Session, name: str, action: Callable, *args):
    try:
        return await files.in_folder(session.kernel.handles.data_fd, action, *args)
    except (OSError, files.FileMissingError) as error:
        raise http.file_error(error, name) from error


def _operation_location(call: Call, execution_id: str) -> str:
    url = call.request.url
    base = str(url.replace(query="")).rstrip("/")
    query = urlencode({"identifier": call.identifier, "api-version": call.api_version})
    return f"{base}/{execution_id}?{query}"
