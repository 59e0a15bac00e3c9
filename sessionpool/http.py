"""HTTP plumbing of the API: Azure's error answers, the bearer check, request bodies."""

import errno
import hmac
import json
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator

from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sessionpool import files, schemas

# The spec's pattern (common.tsp, SessionIdentifier): 4 to 128 printable ASCII characters, neither
# space nor backslash.
IDENTIFIER = re.compile(r"[\x21-\x5b\x5d-\x7e]{4,128}")
MIB = 1024 * 1024


# An extension: every answer names the pool process that gave it. A client that sees the name
# change knows the pool restarted, and that each session it used is new, its variables gone.
INSTANCE_HEADER = b"x-session-pool-instance"


class InstanceHeader:
    """ASGI middleware: `INSTANCE_HEADER` on every answer, `instance` being this process's."""

    def __init__(self, app, instance: str) -> None:
        self.app = app
        self.instance = (INSTANCE_HEADER, instance.encode())

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def named(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.instance]}
            await send(message)

        return await self.app(scope, receive, named)


class ApiError(Exception):
    """An error answer: Azure's body, `x-ms-error-code`, optional headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def error_response(error: ApiError) -> Response:
    headers = {"x-ms-error-code": error.code, **error.headers}
    return JSONResponse(schemas.error_body(error.code, error.message), error.status, headers)


def authorize(request: Request, key: bytes) -> None:
    """401 without a bearer token, 403 with a wrong one; compared in constant time."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "Unauthorized",
            "an Authorization: Bearer <key> header is required",
            {"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.strip().encode(), key):
        raise ApiError(403, "Forbidden", "the bearer key is not valid for this pool")


def check_identifier(identifier: str | None) -> str:
    if identifier is None:
        raise ApiError(400, "MissingIdentifier", "the `identifier` query parameter is required")
    if not IDENTIFIER.fullmatch(identifier):
        raise ApiError(
            400,
            "InvalidIdentifier",
            "identifier must be 4 to 128 printable ASCII characters, without spaces or backslashes",
        )
    return identifier


def clean_file_name(name: str) -> str:
    try:
        return files.clean_name(name)
    except files.FileNameError as error:
        raise ApiError(400, "InvalidFileName", str(error)) from error


def file_error(error: OSError | LookupError, name: str) -> ApiError:
    """What a failed file operation means to the client: the session's code can cause any."""
    where = f"/mnt/data/{files.shown(name)}"
    number = getattr(error, "errno", None)
    if isinstance(error, LookupError) or number in (errno.ENOENT, errno.ELOOP):
        return ApiError(404, "FileNotFound", f"no file {files.shown(name)!r} in /mnt/data")
    if number in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        message = "the session's /mnt/data is full (its size or its number of files)"
        return ApiError(413, "SessionDiskFull", message)
    if number in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
        return ApiError(409, "FileNameInUse", f"{where} is a folder the session's code made")
    if number in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
        message = "the pool is short of descriptors or memory; retry shortly"
        return ApiError(503, "PoolBusy", message, {"Retry-After": "1"})
    reason = os.strerror(number) if number else str(error)
    message = f"{where}: {reason}; the session's code may have changed its folder"
    return ApiError(409, "FileNotAccessible", message)


def first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"


async def json_body(request: Request, limit: int) -> dict:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "RequestTooLarge", f"the body is larger than {limit} bytes")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "InvalidRequestBody", f"the body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ApiError(400, "InvalidRequestBody", "the body must be a JSON object")
    return value


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit + MIB:
            raise ApiError(413, "FileTooLarge", f"uploads are limited to {limit // MIB} MB")
        yield chunk


async def form_file(request: Request, limit: int) -> UploadFile:
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
