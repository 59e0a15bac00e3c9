"""The read-only root a session sees: system and Python bound read-only, small /etc, tmpfs."""

import os
import re
import sys
from dataclasses import dataclass, field

from sessionpool import linux

SANDBOX_UID = 1000
HOSTNAME = "sandbox"
NEW_ROOT = "/tmp"
DEVICES = ("null", "zero", "full", "random", "urandom")
TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC_PASSWD = (
    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    f"user:x:{SANDBOX_UID}:{SANDBOX_UID}:session user:/mnt/data:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
ETC_GROUP = f"root:x:0:\nuser:x:{SANDBOX_UID}:\nnogroup:x:65534:\n"
ETC_HOSTS = f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost\n"
# Inodes per MiB of a session's tmpfs: each costs kernel memory (~1 KiB) that the size misses.
INODES_PER_MB = 64


@dataclass
class Limits:
    """What one session may use; from the SESSION_POOL_* settings of the same names."""

    memory_mb: int = 1024
    disk_mb: int = 1024
    tmp_mb: int = 128
    max_processes: int = 64
    max_open_files: int = 256
    cpu_seconds: int = 3600


@dataclass
class Layout:
    """What a session's root holds: read-only binds of the system and of Python, small /etc."""

    binds: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    etc: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def of_this_host(cls, excluded: tuple[str, ...] = ()) -> "Layout":
        """`/usr` (the sessions' environment included, at /usr/local in the fork server's view),
        the top-level system folders, and whatever else Python imports from (in a fork server
        that runs at the host's paths), but never `excluded` (the pool's own code)."""
        layout = cls(binds=["/usr"])
        for name in TOP_LEVEL:
            path = f"/{name}"
            if os.path.islink(path):
                layout.links[path] = os.readlink(path)
            elif os.path.isdir(path):
                layout.binds.append(path)
        prefixes = [sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix]
        # Every import directory too (a .pth file may point outside the prefixes), but never
        # the pool's own code, nor the fork server's working directory.
        private = {os.path.realpath(p) for p in (os.getcwd(), *excluded) if p}
        for entry in prefixes + [p for p in sys.path if p and os.path.isdir(p)]:
            real = os.path.realpath(entry)
            covered = any(real == b or real.startswith(b + "/") for b in layout.binds)
            if not covered and real not in private:
                layout.binds.append(real)
        layout.etc = {"passwd": ETC_PASSWD.encode(), "group": ETC_GROUP.encode()}
        layout.etc |= {"hosts": ETC_HOSTS.encode(), "hostname": f"{HOSTNAME}\n".encode()}
        for name in ("ld.so.cache", "localtime", "nsswitch.conf"):
            try:
                with open(f"/etc/{name}", "rb") as file:
                    layout.etc[name] = file.read()
            except OSError:
                pass
        return layout


def data_mount(limits: Limits, owner: int) -> int:
    """As root, in the fork server: the tmpfs for a session's /mnt/data, not yet mounted (its
    descriptor). Made outside the session's user namespace, like the pool's own files, so that
    the pool (root, which that namespace does not map) can write uploads into it."""
    options = {"size": f"{limits.disk_mb}m", "nr_inodes": str(limits.disk_mb * INODES_PER_MB)}
    options |= {"mode": "0700", "uid": str(owner), "gid": str(owner)}
    return linux.detached_mount("tmpfs", options, linux.MOUNT_ATTR_NOSUID | linux.MOUNT_ATTR_NODEV)


def build_root(layout: Layout, limits: Limits, data: int | None) -> None:
    """Assemble the session's root in a tmpfs at NEW_ROOT, read-only once done; run as the
    root of the session's user namespace. /mnt/data is `data` (see data_mount), or else a
    tmpfs of that namespace's, where the pool runs as the session's own uid."""
    root = NEW_ROOT
    flags = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    # Descriptors first: the tmpfs mounted at NEW_ROOT may hide a Python that lives under it.
    sources = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in layout.binds}
    devices = {name: os.open(f"/dev/{name}", os.O_PATH | os.O_CLOEXEC) for name in DEVICES}
    linux.mount("tmpfs", root, "tmpfs", flags, "size=4m,mode=0755")
    for path in ("/proc", "/tmp", "/mnt/data", "/etc"):
        os.makedirs(root + path)
    # The writable mounts come before the binds, so a Python under /tmp is bound on top.
    linux.mount("tmpfs", root + "/tmp", "tmpfs", flags, _tmpfs(limits.tmp_mb, "1777"))
    if data is None:
        linux.mount("tmpfs", root + "/mnt/data", "tmpfs", flags, _tmpfs(limits.disk_mb, "0700"))
    else:
        linux.attach_mount(data, root + "/mnt/data")
        os.close(data)
    for path, fd in sources.items():
        os.makedirs(root + path, exist_ok=True)
        # Recursive: the environment is a mount at /usr/local, and a user namespace may not
        # bind a folder without the mounts locked under it.
        bind_read_only(f"/proc/self/fd/{fd}", root + path, recursive=True)
    for path, target in layout.links.items():
        os.symlink(target, root + path)
    _build_dev(root, devices, limits)
    for name, content in layout.etc.items():
        with open(f"{root}/etc/{name}", "wb") as file:
            file.write(content)
    for fd in (*sources.values(), *devices.values()):
        os.close(fd)
    linux.mount(None, root, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | flags)


def _tmpfs(size_mb: int, mode: str) -> str:
    return f"size={size_mb}m,nr_inodes={size_mb * INODES_PER_MB},mode={mode}"


def bind_read_only(source: str, target: str, recursive: bool = False) -> None:
    """Bind `source` at `target`, read-only, with every mount under it read-only too."""
    linux.mount(source, target, None, linux.MS_BIND | (linux.MS_REC if recursive else 0))
    for mount_point in _mounts_under(target) if recursive else [target]:
        keep = linux.mount_flags_of(mount_point) | linux.MS_NOSUID | linux.MS_NODEV
        remount = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | keep
        linux.mount(None, mount_point, None, remount)


def _mounts_under(target: str) -> list[str]:
    """Mount points at or below `target`, parents first, from /proc/self/mountinfo."""
    with open("/proc/self/mountinfo") as file:
        points = [_unescape(line.split()[4]) for line in file]
    inside = {p for p in points if p == target or p.startswith(target + "/")}
    return sorted(inside, key=len)


def _unescape(field: str) -> str:
    """Mount points in mountinfo escape space, tab, newline and backslash as octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def _build_dev(root: str, devices: dict[str, int], limits: Limits) -> None:
    dev = root + "/dev"
    os.makedirs(dev)
    linux.mount("tmpfs", dev, "tmpfs", linux.MS_NOSUID | linux.MS_NOEXEC, "size=64k,mode=0755")
    for name, fd in devices.items():
        open(f"{dev}/{name}", "w").close()
        linux.mount(f"/proc/self/fd/{fd}", f"{dev}/{name}", None, linux.MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, f"{dev}/{name}")
    os.symlink("/proc/self/fd/1", f"{dev}/stdout")
    os.symlink("/proc/self/fd/2", f"{dev}/stderr")
    os.makedirs(f"{dev}/shm")
    shm_flags = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount("tmpfs", f"{dev}/shm", "tmpfs", shm_flags, _tmpfs(limits.tmp_mb, "1777"))
    remount = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | linux.MS_NOSUID
    linux.mount(None, dev, None, remount | linux.MS_NOEXEC)
