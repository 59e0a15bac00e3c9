"""A conversation's files (in /mnt/data of its code session, and kept by the service:
`conversations.files`) and the images its steps made."""

import posixpath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Response, UploadFile
from fastapi.responses import StreamingResponse

from api.deps import AppServices, ClaimedConversation, LinkedConversation, PathConversation
from api.images import image_bytes, image_name, media_type
from conversations import Conversation, Conversations
from errors import BadRequest, NotFound, PayloadTooLarge

router = APIRouter(prefix="/conversations", tags=["files"])
# An image's name is a digest of its bytes: what a link names never changes.
IMMUTABLE = "private, max-age=31536000, immutable"


@router.get("/{conversation_id}/files")
async def list_files(conversation: PathConversation, svc: AppServices) -> dict:
    """The conversation's files: those in its session now, and those kept from earlier ones
    (`kept` is false for a file over the quota, which lasts only as long as the session)."""
    return {"files": await svc.files.current(conversation)}


@router.post("/{conversation_id}/files")
async def upload_file(
    conversation: ClaimedConversation, svc: AppServices, file: Annotated[UploadFile, File()]
) -> dict:
    """Put a file into /mnt/data of the conversation's session; the service keeps it too."""
    name = plain_file_name(file.filename or "")
    limit = svc.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the file is larger than the limit of {limit} bytes")
    return await svc.files.upload(conversation, name, data)


@router.get("/{conversation_id}/files/{name}")
async def download_file(name: str, conversation: LinkedConversation, svc: AppServices) -> Response:
    """The file's bytes (the kept copy, also after the session expired); for its owner, or for
    anyone with a link the service gave out."""
    chunks, kind = await svc.files.open(conversation, plain_file_name(name))
    return StreamingResponse(chunks, media_type=kind, headers=attachment(plain_file_name(name)))


@router.delete("/{conversation_id}/files/{name}", status_code=204)
async def delete_file(name: str, conversation: PathConversation, svc: AppServices) -> None:
    """Remove a file from the conversation: from its session and from the kept files."""
    await svc.files.delete(conversation, plain_file_name(name))


@router.get("/{conversation_id}/images/{name}")
async def get_image(name: str, conversation: LinkedConversation, svc: AppServices) -> Response:
    """An image a python step of the conversation showed (a plot), named by its digest as in
    the links of /v1 answers; for its owner, or for anyone with such a link."""
    data = await find_image(svc.conversations, conversation, name)
    kind = media_type(data) or "application/octet-stream"
    return Response(data, media_type=kind, headers={"Cache-Control": IMMUTABLE})


async def find_image(conversations: Conversations, conversation: Conversation, name: str) -> bytes:
    """The bytes of the image called `name` among the conversation's kept steps."""
    history = await conversations.history(conversation)
    for message in history["messages"]:
        for step in message.get("steps") or []:
            for image in step.get("images") or []:
                if image_name(image) == name:
                    return image_bytes(image)
    raise NotFound(f"no image {name} in this conversation")


def attachment(name: str) -> dict[str, str]:
    """The header that makes a browser save the answer as `name`."""
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}


def plain_file_name(raw: str) -> str:
    """A plain file name in /mnt/data; clients may send it with that prefix."""
    name = posixpath.basename(raw.removeprefix("/mnt/data/"))
    if not name or name in (".", "..") or "/" in raw.removeprefix("/mnt/data/"):
        raise BadRequest("a file name must be a plain name, without directories")
    return name
