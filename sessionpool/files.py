"""A session's /mnt/data as the pool touches it: through a directory descriptor, never a path.

The directory belongs to the sandbox, so everything here assumes hostile contents: names
are single components, symlinks are never followed, only regular files are read.
"""

import contextlib
import mimetypes
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

MOUNT_PREFIX = "/mnt/data/"
MAX_NAME = 255
CHUNK = 1 << 20


class FileNameError(ValueError):
    """The name could leave /mnt/data or is not a file name at all."""


class FileMissingError(LookupError):
    """No regular file of that name."""


class DiskFullError(OSError):
    """The session's /mnt/data quota is used up."""


@dataclass
class FileInfo:
    name: str
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
    if not name or name in (".", "..") or len(name.encode(errors="surrogatepass")) > MAX_NAME:
        raise FileNameError(f"invalid file name {raw!r}")
    if "/" in name or "\\" in name or "\0" in name:
        raise FileNameError(f"invalid file name {raw!r}: only files directly in /mnt/data")
    return name


def _info(name: str, st: os.stat_result) -> FileInfo:
    return FileInfo(name, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))


def list_files(directory: int) -> list[FileInfo]:
    files = []
    with os.scandir(directory) as entries:
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):
                files.append(_info(entry.name, st))
    return sorted(files, key=lambda f: f.name)


def _open_regular(directory: int, name: str) -> int:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
    except (FileNotFoundError, OSError) as error:
        raise FileMissingError(name) from error
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileMissingError(name)
    return fd


def stat_file(directory: int, name: str) -> FileInfo:
    fd = _open_regular(directory, name)
    try:
        return _info(name, os.fstat(fd))
    finally:
        os.close(fd)


def read_file(directory: int, name: str) -> bytes:
    fd = _open_regular(directory, name)
    with os.fdopen(fd, "rb") as file:
        return file.read()


def write_file(directory: int, name: str, source: BinaryIO, owner: int | None) -> FileInfo:
    """Write to a fresh temporary name, then rename over `name` (a planted symlink is replaced)."""
    temporary = f".upload-{secrets.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(temporary, flags, 0o644, dir_fd=directory)
    try:
        with os.fdopen(fd, "wb") as target:
            while chunk := source.read(CHUNK):
                target.write(chunk)
            target.flush()
            if owner is not None:
                os.fchown(target.fileno(), owner, owner)
            st = os.fstat(target.fileno())
        os.rename(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException as error:
        _unlink_quietly(directory, temporary)
        if isinstance(error, OSError) and error.errno in (28, 27, 122):  # ENOSPC, EFBIG, EDQUOT
            raise DiskFullError(error.errno, "the session's /mnt/data is full") from error
        raise
    return _info(name, st)


def delete_file(directory: int, name: str) -> None:
    stat_file(directory, name)
    os.unlink(name, dir_fd=directory)


def copy_all(source: int, target: int, owner: int | None) -> None:
    """Carry a session's files over to its replacement."""
    for info in list_files(source):
        fd = _open_regular(source, info.name)
        with os.fdopen(fd, "rb") as file:
            try:
                write_file(target, info.name, file, owner)
            except DiskFullError:
                return


def _unlink_quietly(directory: int, name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=directory)
