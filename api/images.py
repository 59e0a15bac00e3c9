"""The images python steps show (plots), named by their content as the answers link them."""

import base64
import binascii
import hashlib

IMAGE_TYPES = {
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
    b"GIF87a": ("gif", "image/gif"),
    b"GIF89a": ("gif", "image/gif"),
}


def image_name(image: str) -> str:
    """The content-addressed file name of a base64 image: `<sha256 prefix>.<png|jpg|gif>`."""
    data = image_bytes(image)
    kinds = (ext for magic, (ext, _) in IMAGE_TYPES.items() if data.startswith(magic))
    return f"{hashlib.sha256(data).hexdigest()[:40]}.{next(kinds, 'bin')}"


def image_bytes(image: str) -> bytes:
    try:
        return base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        return b""


def media_type(data: bytes) -> str:
    return next((kind for magic, (_, kind) in IMAGE_TYPES.items() if data.startswith(magic)), "")
