"""A conversation's files, kept by the service so that they outlive its code session.

Uploads and the files code writes in /mnt/data are copied into the file storage (DATA_DIR
or Blob Storage), up to CONVERSATION_FILES_MAX_BYTES per conversation, and indexed in the
store. `sync` compares the session's listing with the index: in the same session (a file
still there, unchanged since it was indexed) new and changed files are kept and files the
code removed are forgotten; in a new session (expired, reset, another replica's first use)
the kept files are uploaded back, and the caller tells the model that its variables are
gone but its files were restored. The agent syncs before and after each turn.
"""

import asyncio
import hashlib
import mimetypes
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.conversation import Conversation
from conversations.file_storage import FileStorage
from conversations.store import kept_files
from errors import NotFound, PayloadTooLarge, PoolUnavailable


class SessionFiles(Protocol):
    """The files calls of the pool's client (tools.PoolClient); entries are
    {"name", "size", "last_modified"}."""

    async def list_files(self, session: str) -> list[dict]: ...

    async def upload(self, session: str, name: str, data: bytes) -> dict: ...

    async def download(self, session: str, name: str): ...

    async def delete_file(self, session: str, name: str) -> None: ...


@dataclass
class Sync:
    """What one sync found and did."""

    new_session: bool = False  # files were kept, and the session had none of them
    restored: list[str] = field(default_factory=list)
    not_kept: list[str] = field(default_factory=list)  # over the quota: only in the session
    lost: list[str] = field(default_factory=list)  # not kept, and gone with the old session
    files: list[dict] = field(default_factory=list)  # the conversation's files now, as `listing`


@dataclass
class _Row:
    name: str
    size: int
    modified: str | None
    kept: bool


class ConversationFiles:
    """Keep, restore, list, read and remove each conversation's files."""

    def __init__(
        self, engine: AsyncEngine, storage: FileStorage, sessions: SessionFiles, quota: int
    ) -> None:
        self.storage = storage
        self.quota = quota
        self._engine = engine
        self._sessions = sessions
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def sync(self, conversation: Conversation, restore: bool = True) -> Sync:
        """Bring the index and the session into line (see the module's docstring); with
        `restore` False a new session is left without the kept files (a mere listing)."""
        async with self._lock(conversation):
            listing = await self._sessions.list_files(conversation.session_id)
            listed = {entry["name"]: entry for entry in listing}
            rows = {row.name: row for row in await self._rows(conversation)}
            same = not rows or any(_unchanged(row, listed.get(row.name)) for row in rows.values())
            sync = Sync(new_session=not same)
            for row in [row for row in rows.values() if row.name not in listed]:
                if row.kept and not same:
                    if restore:
                        await self._restore(conversation, row, rows, sync)
                    continue
                await self._forget(conversation, row.name)  # removed by the code, or lost
                del rows[row.name]
                if not same:
                    sync.lost.append(row.name)
            for name, entry in listed.items():
                if not _unchanged(rows.get(name), entry):
                    await self._keep_from_session(conversation, entry, rows, sync)
            sync.files = _listed(rows.values())  # the index as written above, not read again
            return sync

    async def current(self, conversation: Conversation) -> list[dict]:
        """The files as they are now: the session's (kept when they fit) and the kept ones,
        which alone are listed while the pool is unreachable. A new session is not filled."""
        try:
            return (await self.sync(conversation, restore=False)).files
        except PoolUnavailable:
            return await self.listing(conversation)

    async def listing(self, conversation: Conversation) -> list[dict]:
        """The conversation's files: name, size, last_modified (as the session had it), and
        whether the service keeps it."""
        return _listed(await self._rows(conversation))

    async def upload(self, conversation: Conversation, name: str, data: bytes) -> dict:
        """Keep the file and put it into the session (after restoring the kept ones into a
        new session, so that an upload never leaves the others behind)."""
        await self.sync(conversation)
        async with self._lock(conversation):
            rows = {row.name: row for row in await self._rows(conversation)}
            self._check_quota(rows, name, len(data))
            entry = await self._sessions.upload(conversation.session_id, name, data)
            await self.storage.put(_key(conversation, name), data)
            await self._index(conversation, _Row(name, len(data), entry["last_modified"], True))
        return {"name": name, "size": len(data)}

    async def read(self, conversation: Conversation, name: str) -> bytes:
        """A kept file's bytes; NotFound when the service does not keep it."""
        return await self.storage.read(_key(conversation, name))

    async def open(self, conversation: Conversation, name: str) -> tuple[AsyncIterator[bytes], str]:
        """The file's chunks and its media type: the kept copy, else the session's (a file
        the code wrote that is not kept yet, or not at all)."""
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        row = next((r for r in await self._rows(conversation) if r.name == name), None)
        if row is not None and row.kept:
            return await _started(self.storage.chunks(_key(conversation, name))), media_type
        response = await self._sessions.download(conversation.session_id, name)
        return _single(response.content), response.headers.get("content-type", media_type)

    async def delete(self, conversation: Conversation, name: str) -> None:
        """Remove the file from the service and from the session."""
        async with self._lock(conversation):
            kept = await self._forget(conversation, name)
            try:
                await self._sessions.delete_file(conversation.session_id, name)
            except NotFound:
                if not kept:
                    raise

    async def forget(self, conversation: Conversation) -> None:
        """Remove every kept file of the conversation (it is being deleted)."""
        async with self._lock(conversation):
            for row in await self._rows(conversation):
                await self._forget(conversation, row.name)

    async def _keep_from_session(
        self, conversation: Conversation, entry: dict, rows: dict[str, _Row], sync: Sync
    ) -> None:
        name, size = entry["name"], entry["size"]
        try:
            self._check_quota(rows, name, size)
        except PayloadTooLarge:
            await self.storage.delete(_key(conversation, name))
            sync.not_kept.append(name)
            kept = False
        else:
            try:
                response = await self._sessions.download(conversation.session_id, name)
            except NotFound:  # gone since the listing, or a folder
                return
            await self.storage.put(_key(conversation, name), response.content)
            size, kept = len(response.content), True
        row = _Row(name, size, entry["last_modified"], kept)
        rows[name] = row
        await self._index(conversation, row)

    async def _restore(
        self, conversation: Conversation, row: _Row, rows: dict[str, _Row], sync: Sync
    ) -> None:
        try:
            data = await self.storage.read(_key(conversation, row.name))
        except NotFound:  # the storage lost it (emptied by hand): the index follows
            await self._forget(conversation, row.name)
            del rows[row.name]
            sync.lost.append(row.name)
            return
        entry = await self._sessions.upload(conversation.session_id, row.name, data)
        rows[row.name] = _Row(row.name, len(data), entry["last_modified"], True)
        await self._index(conversation, rows[row.name])
        sync.restored.append(row.name)

    def _check_quota(self, rows: dict[str, _Row], name: str, size: int) -> None:
        used = sum(row.size for row in rows.values() if row.kept and row.name != name)
        if used + size > self.quota:
            raise PayloadTooLarge(
                f"{name} ({_megabytes(size)}) does not fit in this conversation's files: they "
                f"may hold {_megabytes(self.quota)} (CONVERSATION_FILES_MAX_BYTES) and "
                f"already hold {_megabytes(used)}; delete some files first"
            )

    def _lock(self, conversation: Conversation) -> asyncio.Lock:
        lock = self._locks.get(conversation.session_id)
        if lock is None:
            lock = self._locks[conversation.session_id] = asyncio.Lock()
        return lock

    async def _rows(self, conversation: Conversation) -> list[_Row]:
        query = select(
            kept_files.c.name, kept_files.c.size, kept_files.c.modified, kept_files.c.kept
        ).where(*_of(conversation))
        async with self._engine.connect() as connection:
            return [_Row(*row) for row in await connection.execute(query)]

    async def _index(self, conversation: Conversation, row: _Row) -> None:
        values = {"size": row.size, "modified": row.modified, "kept": row.kept}
        async with self._engine.begin() as connection:
            changed = await connection.execute(
                update(kept_files)
                .where(*_of(conversation), kept_files.c.name == row.name)
                .values(**values)
            )
            if changed.rowcount == 0:
                await connection.execute(
                    insert(kept_files).values(
                        user_id=conversation.user,
                        conversation_id=conversation.id,
                        name=row.name,
                        **values,
                    )
                )

    async def _forget(self, conversation: Conversation, name: str) -> bool:
        """Drop the file from the index and the storage; True if it was indexed."""
        async with self._engine.begin() as connection:
            removed = await connection.execute(
                delete(kept_files).where(*_of(conversation), kept_files.c.name == name)
            )
        await self.storage.delete(_key(conversation, name))
        return removed.rowcount > 0


def _listed(rows: Iterable[_Row]) -> list[dict]:
    return [
        {"name": row.name, "size": row.size, "last_modified": row.modified, "kept": row.kept}
        for row in sorted(rows, key=lambda row: row.name)
    ]


def _of(conversation: Conversation) -> tuple:
    return (
        kept_files.c.user_id == conversation.user,
        kept_files.c.conversation_id == conversation.id,
    )


def _key(conversation: Conversation, name: str) -> str:
    """The storage key: the session's identifier (a digest of user and conversation) and a
    digest of the name, so that no name can reach outside its folder."""
    digest = hashlib.sha256(name.encode(errors="surrogateescape")).hexdigest()
    return f"{conversation.session_id}/{digest}"


def _unchanged(row: _Row | None, entry: dict | None) -> bool:
    """The session's file is the version the index describes."""
    if row is None or entry is None or row.modified is None:
        return False
    return (row.size, row.modified) == (entry["size"], entry["last_modified"])


async def _started(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`chunks` with its first chunk read now, so that a missing file fails before an answer
    starts."""
    first = await anext(chunks, b"")

    async def rest() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return rest()


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
