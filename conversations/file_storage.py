"""Where conversations' kept files live: a folder under DATA_DIR, or a Blob Storage container.

Both hold opaque keys (`conversations.files` makes them) and whole files; neither knows
about sessions, quotas or names. Blob Storage signs in with the app's managed identity
(DefaultAzureCredential, AZURE_CLIENT_ID), or with a connection string (Azurite, account keys).
"""

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.identity.aio import DefaultAzureCredential
from azure.storage.blob.aio import ContainerClient

from errors import NotFound, StorageUnavailable

CHUNK_BYTES = 1024 * 1024


class FileStorage(Protocol):
    """Whole files by key."""

    where: str  # said in the start-up log and the README: where the files are

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, key: str, data: bytes) -> None: ...

    async def read(self, key: str) -> bytes:
        """The file's bytes; NotFound when there is none."""
        ...

    def chunks(self, key: str) -> AsyncIterator[bytes]:
        """The file a chunk at a time; NotFound (on the first read) when there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file; a missing one is no error."""
        ...

    async def keep_first(self, key: str, data: bytes) -> bytes:
        """Store `data` under `key` unless a file is there already; the file kept. Of several
        writers at once (workers, replicas), one wins and every one gets its bytes, whole."""
        ...


class DirectoryStorage:
    """Files under a folder (DATA_DIR/files): each written to a temporary name, then renamed,
    so a reader never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = f"folder {root}"

    async def start(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        """Nothing to close."""

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self.root / key, data)

    async def read(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread((self.root / key).read_bytes)
        except FileNotFoundError:
            raise NotFound("the file is not kept") from None

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(open, self.root / key, "rb")
        except FileNotFoundError:
            raise NotFound("the file is not kept") from None
        with handle:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk

    async def delete(self, key: str) -> None:
        await asyncio.to_thread((self.root / key).unlink, missing_ok=True)

    async def keep_first(self, key: str, data: bytes) -> bytes:
        return await asyncio.to_thread(self._write, self.root / key, data, overwrite=False)

    @staticmethod
    def _write(path: Path, data: bytes, overwrite: bool = True) -> bytes:
        """Write `data` to a file of its own, then move it into place (or, without
        `overwrite`, link it there unless a file is there already); the file's bytes."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            if overwrite:
                os.replace(temporary, path)
            else:
                os.link(temporary, path)
        except FileExistsError:
            return path.read_bytes()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return data


class BlobStorage:
    """Block blobs in one container; failures of the storage service are StorageUnavailable."""

    def __init__(self, container: ContainerClient, credential=None) -> None:
        self._container = container
        self._credential = credential  # closed with the client when the service stops
        self.where = f"Blob Storage container {container.container_name} at {container.url}"

    async def start(self) -> None:
        # Bicep creates the container; a local Azurite starts empty.
        with _storage_errors(), contextlib.suppress(ResourceExistsError):
            await self._container.create_container()

    async def close(self) -> None:
        await self._container.close()
        if self._credential is not None:
            await self._credential.close()

    async def put(self, key: str, data: bytes) -> None:
        with _storage_errors():
            await self._container.upload_blob(key, data, overwrite=True)

    async def read(self, key: str) -> bytes:
        with _storage_errors():
            download = await self._container.download_blob(key)
            return await download.readall()

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        with _storage_errors():
            download = await self._container.download_blob(key)
            async for chunk in download.chunks():
                yield chunk

    async def delete(self, key: str) -> None:
        with _storage_errors(), contextlib.suppress(ResourceNotFoundError):
            await self._container.delete_blob(key)

    async def keep_first(self, key: str, data: bytes) -> bytes:
        with _storage_errors():
            try:
                await self._container.upload_blob(key, data, overwrite=False)  # If-None-Match: *
            except ResourceExistsError:  # another writer was first
                download = await self._container.download_blob(key)
                return await download.readall()
        return data


@contextlib.contextmanager
def _storage_errors():
    try:
        yield
    except ResourceNotFoundError:
        raise NotFound("the file is not kept") from None
    except AzureError as error:
        message = getattr(error, "message", None) or type(error).__name__
        raise StorageUnavailable(f"the file storage failed: {message.splitlines()[0]}") from None


def build_file_storage(
    data_dir: Path,
    blob_endpoint: str | None,
    container: str,
    connection_string: str | None,
    managed_identity_client_id: str | None,
) -> FileStorage:
    """Blob Storage when an endpoint or a connection string is given, else DATA_DIR/files."""
    if connection_string:
        client = ContainerClient.from_connection_string(connection_string, container)
        return BlobStorage(client)
    if blob_endpoint:
        credential = DefaultAzureCredential(managed_identity_client_id=managed_identity_client_id)
        return BlobStorage(ContainerClient(blob_endpoint, container, credential), credential)
    return DirectoryStorage(data_dir / "files")
