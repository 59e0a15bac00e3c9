"""The handlers of the dynamic-sessions routes, bound to one pool."""

import asyncio
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlencode

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from sessionpool import files, folders, http, metadata, schemas
from sessionpool.pool import Pool
from sessionpool.session import Execution, Session
from sessionpool.settings import PoolSettings

OUTPUT_CEILING = 1_048_576
SESSIONS_PAGE = 100


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

    @property
    def session_id(self) -> str:
        """The identifier, on the routes that need one (app.py checked it is there)."""
        if self.identifier is None:
            raise http.ApiError(400, "MissingIdentifier", "the `identifier` parameter is required")
        return self.identifier


class Api:
    """The handlers, bound to one pool."""

    def __init__(self, settings: PoolSettings, pool: Pool) -> None:
        self.settings = settings
        self.pool = pool
        self._background: set[asyncio.Task] = set()

    async def _session(self, call: Call) -> Session:
        return await self.pool.session(call.session_id)

    def _existing(self, call: Call) -> Session | None:
        return self.pool.sessions.get(call.session_id)

    # --- code ----------------------------------------------------------------------------

    async def _parse_execution(self, call: Call) -> schemas.ExecutionRequest:
        body = await http.json_body(call.request, 4 * self.settings.max_code_bytes + 65536)
        if call.generation == 1 and isinstance(body.get("properties"), dict):
            body = body["properties"]
        if body.get("shellCommand") is not None or body.get("execCommandAndArgs") is not None:
            raise http.ApiError(
                400,
                "ShellNotSupported",
                "this is a Python code-interpreter pool: shellCommand and execCommandAndArgs "
                "belong to Shell session pools; send Python in `code`",
            )
        if not isinstance(body.get("code"), str):
            raise http.ApiError(400, "MissingCode", "the request body needs a string `code`")
        if call.api_version not in schemas.LATEST:
            # Fields added in 2025-10-02-preview (code-execution.tsp): earlier versions ignore them.
            for field in (
                "outputStreamsMaxLength",
                "useEmptyKernel",
                "returnJupyterFormatExecutionResult",
            ):
                body.pop(field, None)
        try:
            request = schemas.ExecutionRequest.model_validate(body)
            request.code = request.source()
        except ValidationError as error:
            raise http.ApiError(400, "InvalidRequestBody", http.first_error(error)) from error
        except ValueError as error:
            raise http.ApiError(400, "InvalidCode", str(error)) from error
        if len(request.code.encode(errors="surrogatepass")) > self.settings.max_code_bytes:
            raise http.ApiError(
                413,
                "CodeTooLarge",
                f"code is larger than {self.settings.max_code_bytes} bytes",
            )
        return request

    def _output_limit(self, request: schemas.ExecutionRequest) -> int:
        limit = request.output_streams_max_length
        return self.settings.output_max_length if limit is None else min(limit, OUTPUT_CEILING)

    async def _run(self, session: Session, request: schemas.ExecutionRequest):
        timeout = min(
            request.timeout_in_seconds or self.settings.timeout_seconds,
            self.settings.timeout_seconds,
        )
        limit = self._output_limit(request)
        outcome = await self.pool.execute(
            session, request.code, timeout, limit, empty=request.use_empty_kernel
        )
        session.latest = outcome
        return outcome

    async def execute_gen1(self, call: Call) -> Response:
        request = await self._parse_execution(call)
        session = await self._session(call)
        outcome = await self._run(session, request)
        return JSONResponse(schemas.gen1_execution(outcome, self._output_limit(request)))

    async def execute_gen2(self, call: Call) -> Response:
        request = await self._parse_execution(call)
        session = await self._session(call)
        # The spec makes the caller's operation-id header the execution's id.
        execution_id = call.request.headers.get("operation-id") or str(uuid.uuid4())
        execution = Execution(
            execution_id,
            request.execution_type,
            max_output=self._output_limit(request),
            jupyter_format=request.jupyter_format,
        )
        session.remember(execution)
        headers = {
            "operation-id": execution.id,
            "Operation-Location": _operation_location(call, execution.id),
        }
        if request.execution_type == "asynchronous":
            task = asyncio.create_task(self._run_later(session, request, execution))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        else:
            execution.outcome = await self._run(session, request)
        # Every revision of the gen-2 specs answers 200, also while an execution still runs.
        return JSONResponse(_execution_body(session, execution), 200, headers)

    async def _run_later(self, session, request, execution: Execution) -> None:
        execution.outcome = await self._run(session, request)

    async def get_execution(self, call: Call) -> Response:
        session = self._existing(call)
        execution_id = unquote(call.match["id"])
        execution = session.executions.get(execution_id) if session else None
        if session is None or execution is None:
            raise http.ApiError(404, "ExecutionNotFound", f"no execution {execution_id!r}")
        return JSONResponse(_execution_body(session, execution))

    async def outputs(self, call: Call) -> Response:
        """Local extension: every Jupyter output of the session's last call, in order."""
        session = self._existing(call)
        if session is None:
            raise http.ApiError(404, "SessionNotFound", f"no session {call.identifier!r}")
        latest = session.latest
        body = {
            "identifier": session.identifier,
            "status": None if latest is None else ("Succeeded" if latest.succeeded else "Failed"),
            "outputs": [] if latest is None else latest.outputs,
        }
        return JSONResponse(body)

    async def interrupt(self, call: Call) -> Response:
        return JSONResponse({"interrupted": await self.pool.interrupt(call.session_id)})

    # --- files ---------------------------------------------------------------------------

    async def upload(self, call: Call) -> Response:
        limit = self.settings.max_upload_mb * http.MIB
        declared = call.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + http.MIB:
            raise http.ApiError(
                413, "FileTooLarge", f"uploads are limited to {limit // http.MIB} MB"
            )
        upload = await http.form_file(call.request, limit)
        try:
            folder, name = _folder(call), http.clean_file_name(upload.filename or "")
            session = await self._session(call)
            owner = session.kernel.host_uid if os.geteuid() == 0 else None
            info = await _in_folder(
                session, folder, name, files.write_file, name, upload.file, owner, create=True
            )
        finally:
            await upload.close()
        if call.generation == 1:
            return JSONResponse(schemas.gen1_files([info]))
        return JSONResponse(schemas.gen2_file(info))

    async def list_files(self, call: Call) -> Response:
        folder = _folder(call)
        latest = call.api_version in schemas.LATEST
        recursive = latest and call.request.query_params.get("recursive", "").lower() == "true"
        session = self._existing(call)
        entries = []
        if session is not None:
            entries = await _in_folder(session, folder, "", folders.listing, recursive, latest)
        if call.generation == 1:
            return JSONResponse(schemas.gen1_files(entries))
        return JSONResponse(schemas.gen2_files(entries, with_directory=latest))

    async def _file(self, call: Call, action: Callable):
        # A name's bytes that are not UTF-8 stay bytes (as os.fsdecode keeps them).
        folder, name = _location(call, unquote(call.match["name"], errors="surrogateescape"))
        session = self._existing(call)
        if session is None:
            raise http.file_error(files.FileMissingError(name), "/".join([*folder, name]))
        return name, await _in_folder(session, folder, name, action, name)

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
        await self.pool.delete(call.session_id)
        return Response(status_code=204)

    async def stop_session(self, call: Call) -> Response:
        if not await self.pool.delete(call.session_id):
            raise http.ApiError(404, "SessionNotFound", f"no session {call.identifier!r}")
        return JSONResponse(f"Session {call.identifier} in session pool local stopped.")

    async def list_sessions(self, call: Call) -> Response:
        raw = call.request.query_params.get("skip", "0")
        if not raw.isdigit() or int(raw) > 2**31 - 1:
            raise http.ApiError(400, "InvalidSkip", "skip must be a whole number from 0 to 2^31-1")
        skip = int(raw)
        page = list(self.pool.sessions.values())[skip : skip + SESSIONS_PAGE]
        next_link = None
        if skip + SESSIONS_PAGE < len(self.pool.sessions):
            query = urlencode({"api-version": call.api_version, "skip": skip + SESSIONS_PAGE})
            next_link = f"{call.request.url.replace(query='')}?{query}"
        sessions = [self._session_body(s) for s in page]
        return JSONResponse({"sessions": sessions, "nextLink": next_link})

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


def _folder(call: Call) -> list[str]:
    try:
        return folders.parts(call.request.query_params.get("path"))
    except files.FileNameError as error:
        raise http.ApiError(400, "InvalidPath", str(error)) from error


def _location(call: Call, name: str) -> tuple[list[str], str]:
    """The folder below /mnt/data and the file name a request points to."""
    try:
        folder, name = folders.split(call.request.query_params.get("path"), name)
    except files.FileNameError as error:
        raise http.ApiError(400, "InvalidFileName", str(error)) from error
    return folder, http.clean_file_name(name)


async def _in_folder(
    session: Session, folder: list[str], name: str, action: Callable, *args, create=False
):
    """`action(folder_fd, *args)` in a thread, in `folder` below /mnt/data (made if `create`,
    owned by the session); what fails becomes the client's error about `name` there."""
    owner = session.kernel.host_uid if os.geteuid() == 0 else None

    def run(data: int):
        with folders.opened(data, folder, create, owner) as fd:
            return action(fd, *args)

    try:
        return await files.in_folder(session.kernel.handles.data_fd, run)
    except (OSError, files.FileMissingError) as error:
        raise http.file_error(error, "/".join([*folder, name])) from error


def _operation_location(call: Call, execution_id: str) -> str:
    url = call.request.url
    base = str(url.replace(query="")).rstrip("/")
    query = urlencode({"identifier": call.identifier, "api-version": call.api_version})
    return f"{base}/{quote(execution_id, safe='')}?{query}"


def _execution_body(session: Session, execution: Execution) -> dict:
    return schemas.gen2_execution(
        execution.id,
        session.identifier,
        execution.execution_type,
        execution.outcome,
        execution.max_output,
        execution.jupyter_format,
    )
