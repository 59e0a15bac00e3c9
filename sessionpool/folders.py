"""Folders under a session's /mnt/data, reached component by component from its descriptor.

The `path` query parameter of the file routes (and a `name` holding slashes) names a folder
below /mnt/data: `/mnt/data/reports/2024`, `reports/2024` and `reports/2024/` are the same.
Every component is opened with O_NOFOLLOW | O_DIRECTORY relative to its parent, so neither a
symlink nor `..` planted by the session leads the pool outside /mnt/data.
"""

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sessionpool.files import MAX_NAME, MOUNT_PREFIX, FileMissingError, FileNameError, shown

MAX_DEPTH = 32
MAX_ENTRIES = 10_000
OPEN_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Entry:
    """A file or folder as the listing shows it; `directory` is relative to the listed folder."""

    name: str
    directory: str
    is_folder: bool
    size: int
    modified: datetime


def parts(path: str | None) -> list[str]:
    """The components of a folder below /mnt/data ([] for /mnt/data itself); relative paths
    start at /mnt/data, absolute ones must be inside it."""
    text = (path or "").strip()
    for prefix in (MOUNT_PREFIX.rstrip("/"), MOUNT_PREFIX.strip("/")):
        if text == prefix or text.startswith(prefix + "/"):
            text = text[len(prefix) :].lstrip("/")
            break
    if text.startswith("/"):
        raise FileNameError(f"invalid folder {path!r}: only folders below /mnt/data")
    components = [c for c in text.split("/") if c not in ("", ".")]
    for component in components:
        if component == ".." or "\\" in component or "\0" in component:
            raise FileNameError(f"invalid folder {path!r}: only folders below /mnt/data")
        if len(component.encode(errors="surrogatepass")) > MAX_NAME:
            raise FileNameError(f"invalid folder {path!r}: a name is too long")
    if len(components) > MAX_DEPTH:
        raise FileNameError(f"invalid folder {path!r}: more than {MAX_DEPTH} levels")
    return components


def split(path: str | None, name: str) -> tuple[list[str], str]:
    """The folder and the file name that `path` and a `name` (maybe with slashes) point to."""
    components = parts(path) + parts(name)
    if not components:
        raise FileNameError(f"invalid file name {name!r}")
    return components[:-1], components[-1]


@contextlib.contextmanager
def opened(data_fd: int, components: list[str], create: bool = False, owner: int | None = None):
    """A descriptor of the folder (made, as `owner`, if `create`); 404 when it is not one."""
    fd = os.dup(data_fd)
    try:
        for component in components:
            try:
                child = os.open(component, OPEN_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise FileMissingError(component) from None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(component, 0o755, dir_fd=fd)
                    if owner is not None:
                        os.chown(component, owner, owner, dir_fd=fd, follow_symlinks=False)
                child = os.open(component, OPEN_FLAGS, dir_fd=fd)
            except OSError as error:  # a file, a symlink, or no permission
                raise FileMissingError(component) from error
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def listing(folder_fd: int, recursive: bool, folders: bool) -> list[Entry]:
    """Regular files (and folders, if `folders`) of the folder, its subfolders' if `recursive`."""
    found = []
    for entry in _walk(folder_fd, "", recursive):
        if entry.is_folder and not folders:
            continue
        found.append(entry)
        if len(found) >= MAX_ENTRIES:
            break
    return sorted(found, key=lambda e: (e.directory, e.name))


def _walk(fd: int, directory: str, recursive: bool) -> Iterator[Entry]:
    with os.scandir(fd) as scan:
        items = [(item.name, item.stat(follow_symlinks=False)) for item in scan]
    for name, st in items:
        is_folder = stat.S_ISDIR(st.st_mode)
        if not (is_folder or stat.S_ISREG(st.st_mode)):
            continue
        modified = datetime.fromtimestamp(st.st_mtime, UTC)
        yield Entry(shown(name), directory, is_folder, st.st_size, modified)
        if is_folder and recursive and directory.count("/") < MAX_DEPTH:
            try:
                child = os.open(name, OPEN_FLAGS, dir_fd=fd)
            except OSError:
                continue
            try:
                yield from _walk(child, f"{directory}/{shown(name)}".lstrip("/"), recursive)
            finally:
                os.close(child)
