"""Files a client attaches to its message as OpenAI's content parts: a chat completion's
`{"type": "file", "file": {"filename", "file_data"}}` or `{"type": "image_url", "image_url":
{"url": "data:image/png;base64,..."}}`, a response's `input_file` and `input_image`. This
service's model reads them with code, so each goes into /mnt/data of the conversation's code
session, and the message says where. An image has no name of its own: it is named after its
content (image-<digest>.png)."""

import base64
import binascii
import hashlib
import mimetypes
from dataclasses import dataclass

from api.files import plain_file_name
from api.openai.errors import OpenAIError
from errors import BadRequest

FILE_PARTS = ("file", "input_file")
IMAGE_PARTS = ("image_url", "input_image")
ATTACHED_PARTS = FILE_PARTS + IMAGE_PARTS
DIGEST_CHARS = 12


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes


def file_name(part: dict, param: str) -> str:
    """The name in /mnt/data of an attached part's file."""
    return _source(part, param)[0]


def attachment(part: dict, param: str, max_bytes: int) -> Attachment:
    """The file of an attached part, decoded from its base64."""
    name, encoded = _source(part, param)
    if len(encoded) > max_bytes * 4 // 3 + 4:
        raise _too_large(param, max_bytes)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise OpenAIError("the file's data is not valid base64", param=param) from None
    if len(data) > max_bytes:
        raise _too_large(param, max_bytes)
    return Attachment(name, data)


def _source(part: dict, param: str) -> tuple[str, str]:
    """(name, base64 data) of an attached part."""
    if part.get("type") in IMAGE_PARTS:
        return _image_source(part, param)
    fields = part.get("file") if part.get("type") == "file" else part
    fields = fields if isinstance(fields, dict) else {}
    raw = fields.get("filename")
    if not isinstance(raw, str) or not raw:
        raise OpenAIError("a file part needs its filename (its name in /mnt/data)", param=param)
    try:
        name = plain_file_name(raw)
    except BadRequest as error:
        raise OpenAIError(error.message, param=param) from None
    if "file_id" in fields or "file_url" in fields:
        raise _not_kept(param)
    encoded = fields.get("file_data")
    if not isinstance(encoded, str):
        raise OpenAIError("a file part needs file_data: the file, base64-encoded", param=param)
    return name, encoded.partition(",")[2] if encoded.startswith("data:") else encoded


def _image_source(part: dict, param: str) -> tuple[str, str]:
    """An image part's data: URL (images at other URLs are not fetched)."""
    url = part.get("image_url")
    url = url.get("url") if isinstance(url, dict) else url
    if "file_id" in part:
        raise _not_kept(param)
    if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
        raise OpenAIError(
            "an image is sent as a data: URL (data:image/png;base64,...); this service does "
            "not fetch URLs",
            param=param,
            code="unsupported_content",
        )
    media_type, _, encoded = url.removeprefix("data:").partition(";base64,")
    extension = mimetypes.guess_extension(media_type) or ".img"
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:DIGEST_CHARS]
    return f"image-{digest}{extension}", encoded


def _not_kept(param: str) -> OpenAIError:
    return OpenAIError(
        "file_id and file_url are not supported: this service keeps no OpenAI file store; "
        "send the file itself (base64 file_data with its filename, or an image's data: URL)",
        param=param,
        code="unsupported_parameter",
    )


def _too_large(param: str, max_bytes: int) -> OpenAIError:
    return OpenAIError(
        f"the file is larger than the limit of {max_bytes} bytes",
        param=param,
        code="file_too_large",
        status=413,
    )
