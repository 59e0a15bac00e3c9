"""Files a client attaches to its message as OpenAI's file content parts: a chat completion's
`{"type": "file", "file": {"filename", "file_data"}}` or a response's `{"type": "input_file",
"filename", "file_data"}`. This service's model reads them with code, so each goes into
/mnt/data of the conversation's code session, and the message says where."""

import base64
import binascii
from dataclasses import dataclass

from api.files import plain_file_name
from api.openai.errors import OpenAIError
from errors import BadRequest

FILE_PARTS = ("file", "input_file")


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes


def _fields(part: dict) -> dict:
    """The part's file fields: nested under `file` in chat completions, flat in responses."""
    fields = part.get("file") if part.get("type") == "file" else part
    return fields if isinstance(fields, dict) else {}


def file_name(part: dict, param: str) -> str:
    """The name in /mnt/data of a file part's file."""
    raw = _fields(part).get("filename")
    if not isinstance(raw, str) or not raw:
        raise OpenAIError(
            "a file part needs its filename (the file's name in /mnt/data)", param=param
        )
    try:
        return plain_file_name(raw)
    except BadRequest as error:
        raise OpenAIError(error.message, param=param) from None


def attachment(part: dict, param: str, max_bytes: int) -> Attachment:
    """The file of a file part, decoded from `file_data` (base64, or a base64 data: URL)."""
    fields = _fields(part)
    name = file_name(part, param)
    if "file_id" in fields or "file_url" in fields:
        raise OpenAIError(
            "file_id and file_url are not supported: send the file itself as file_data "
            "(base64), with its filename",
            param=param,
            code="unsupported_parameter",
        )
    encoded = fields.get("file_data")
    if not isinstance(encoded, str):
        raise OpenAIError("a file part needs file_data: the file, base64-encoded", param=param)
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]
    if len(encoded) > max_bytes * 4 // 3 + 4:
        raise _too_large(param, max_bytes)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise OpenAIError("file_data is not valid base64", param=param) from None
    if len(data) > max_bytes:
        raise _too_large(param, max_bytes)
    return Attachment(name, data)


def _too_large(param: str, max_bytes: int) -> OpenAIError:
    return OpenAIError(
        f"the file is larger than the limit of {max_bytes} bytes",
        param=param,
        code="file_too_large",
        status=413,
    )
