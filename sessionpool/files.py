"""A session's /mnt/data as the pool touches it: through a directory descriptor, never a path.

The directory belongs to the sandbox, so everything here assumes hostile contents: names
are single components, symlinks are never followed, only regular files are read. Each
operation runs on a descriptor of its own (`folder`), opened from the session's while the
session is known to be alive: concurrent listings do not share a directory offset, and a
session replaced meanwhile cannot hand its descriptor's number to another one.

Names the API shows are text: a file name that is not UTF-8 (code can make one) is shown with
each byte that is not part of valid UTF-8 as `%XX`, and that name finds the file again.
"""

import asyncio
import contextlib
import mimetypes
import os
import re
import secrets
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

MOUNT_PREFIX = "/mnt/data/"
MAX_NAME = 255
CHUNK = 1 << 20
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # how os.fsdecode keeps a non-UTF-8 byte
_PERCENT_BYTE = re.compile("%([89A-F][0-9A-F])")


class FileNameError(ValueError):
    """The name could leave /mnt/data or is not a file name at all."""


class FileMissingError(LookupError):
    """No regular file of that name."""


@dataclass
class FileInfo:
    name: str  # as the API shows it
    size: int
    modified: datetime

    @property
    def content_type(self) -> str:
        return content_type(self.name)


def content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def clean_name(raw: str) -> str:
    """The bare file name: `/mnt/data/` (or `mnt/data/`) is dropped, anything else refused."""
    name = raw
    for prefix in (MOUNT_PREFIX, MOUNT_PREFIX.lstrip("/")):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    try:
        size = len(os.fsencode(name))
    except UnicodeEncodeError:
        raise FileNameError(f"invalid file name {shown(raw)!r}: not text") from None
    if not name or name in (".", "..") or size > MAX_NAME:
        raise FileNameError(f"invalid file name {shown(raw)!r}")
    if "/" in name or "\\" in name or "\0" in name:
        raise FileNameError(f"invalid file name {shown(raw)!r}: only files directly in /mnt/data")
    return name


def shown(name: str) -> str:
    """The name as the API shows it: UTF-8 text, a byte that is not UTF-8 as `%XX`."""
    return _ESCAPED_BYTE.sub(lambda byte: f"%{ord(byte[0]) - 0xDC00:02X}", name)


def _on_disk(folder: int, name: str) -> str:
    """The file a shown name stands for: the name itself, else its `%XX` as bytes."""
    unescaped = _PERCENT_BYTE.sub(lambda byte: chr(0xDC00 + int(byte[1], 16)), name)
    if unescaped == name or _exists(folder, name) or not _exists(folder, unescaped):
        return name
    return unescaped


def _exists(folder: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except (OSError, ValueError):
        return False
    return True


async def in_folder(data_fd: int, action: Callable, *args):
    """Run `action(folder, *args)` in a thread, on a descriptor of the session's folder of its
    own, opened now (on the event loop, where the session cannot be closed meanwhile)."""
    folder = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=data_fd)
    try:
        return await asyncio.to_thread(action, folder, *args)
    finally:
        os.close(folder)


def _info(name: str, st: os.stat_result) -> FileInfo:
    return FileInfo(shown(name), st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))


def _regular_entries(folder: int) -> list[tuple[str, os.stat_result]]:
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):  # gone since it was listed
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode):
                    found.append((entry.name, st))
    return found


def list_files(folder: int) -> list[FileInfo]:
    return sorted((_info(name, st) for name, st in _regular_entries(folder)), key=_by_name)


def _by_name(info: FileInfo) -> str:
    return info.name


def open_regular(folder: int, name: str) -> int:
    """A descriptor of the regular file `name` (never through a symlink), or FileMissingError."""
    try:
        fd = os.open(
            _on_disk(folder, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder
        )
    except OSError as error:
        raise FileMissingError(name) from error
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileMissingError(name)
    return fd


def open_download(folder: int, name: str) -> tuple[int, int]:
    """The file's descriptor and its size now: what a download sends."""
    fd = open_regular(folder, name)
    return fd, os.fstat(fd).st_size


async def chunks(fd: int, size: int) -> AsyncIterator[bytes]:
    """The first `size` bytes of `fd`, CHUNK at a time (read in a thread); closes `fd`. A
    file that shrank meanwhile ends short, and the client sees the download incomplete."""
    try:
        offset = 0
        while offset < size:
            chunk = await asyncio.to_thread(os.pread, fd, min(CHUNK, size - offset), offset)
            if not chunk:
                return
            offset += len(chunk)
            yield chunk
    finally:
        os.close(fd)


def stat_file(folder: int, name: str) -> FileInfo:
    fd = open_regular(folder, name)
    try:
        return _info(name, os.fstat(fd))
    finally:
        os.close(fd)


def write_file(folder: int, name: str, source: BinaryIO, owner: int | None) -> FileInfo:
    """Write to a fresh temporary name, then rename over `name` (a planted symlink is replaced)."""
    temporary = f".upload-{secrets.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o644, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb") as target:
            while chunk := source.read(CHUNK):
                target.write(chunk)
            target.flush()
            if owner is not None:
                os.fchown(target.fileno(), owner, owner)
            st = os.fstat(target.fileno())
        os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        _unlink_quietly(folder, temporary)
        raise
    return _info(name, st)


def delete_file(folder: int, name: str) -> None:
    stat_file(folder, name)
    os.unlink(_on_disk(folder, name), dir_fd=folder)


def copy_all(source: int, target: int, owner: int | None) -> None:
    """Carry a session's files over to its replacement (as many as fit)."""
    for name, _ in _regular_entries(source):
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=source)
            with os.fdopen(fd, "rb") as file:
                write_file(target, name, file, owner)
        except OSError:
            continue


def _unlink_quietly(folder: int, name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=folder)
