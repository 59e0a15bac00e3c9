"""A cgroup per session: its memory (everything it pins), its process count, its CPU weight.

cgroup v2 where the pool owns a delegated subtree (a systemd unit or scope with Delegate=yes,
a container with its own cgroup namespace, root on a v2 host); else the v1 `memory` and `pids`
hierarchies (and `cpu` when mounted) as root; else none, and sessions keep to per-process
rlimits. Every path comes from /proc/self/cgroup and /proc/self/mountinfo.

All sessions live under one group of the pool's, whose memory limit bounds them together with
the pool itself (and what the pool writes into their folders: uploads, files carried over).
"""

import contextlib
import itertools
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

MIB = 1024 * 1024
REQUIRED = ("memory", "pids")
OPTIONAL = ("cpu",)
UNLIMITED = 1 << 60  # what counts as "no limit" when reading v1's and v2's ceilings
SUBTREE = "cgroup.subtree_control"


class CgroupError(OSError):
    """Cgroups cannot be had here; the message says why, for the start-up log."""


@dataclass
class Group:
    """One session's cgroup: its directory in each hierarchy (one for all with v2)."""

    paths: dict[str, str]  # controller -> directory
    events: int = -1  # kept open: read after every call, which a fresh open would slow

    @property
    def procs(self) -> list[str]:
        return [f"{path}/cgroup.procs" for path in set(self.paths.values())]


@dataclass
class Cgroups:
    """The pool's group and the sessions' groups inside it."""

    version: int
    tops: dict[str, str]  # controller -> the pool's group, where sessions' groups are made
    home: list[str]  # where the pool itself was, to go back on close
    pool_group: str  # where the pool runs now, for its memory
    total_bytes: int
    enabled: list[str] = field(default_factory=list)  # v2 groups whose subtree we opened
    _serial: Iterator[int] = field(default_factory=itertools.count)
    _doomed: list[Group] = field(default_factory=list)

    @property
    def controllers(self) -> list[str]:
        return list(self.tops)

    # --- sessions ------------------------------------------------------------------------

    def create(self, memory_mb: int, max_processes: int) -> Group:
        """A fresh group for one session: `memory_mb` in all, `max_processes` tasks."""
        name = f"session-{next(self._serial)}"
        group = Group({controller: f"{top}/{name}" for controller, top in self.tops.items()})
        made = []
        try:
            for path in dict.fromkeys(group.paths.values()):
                os.mkdir(path)
                made.append(path)
            self._limit(group, memory_mb * MIB, max_processes)
            name = "memory.events" if self.version == 2 else "memory.oom_control"
            group.events = os.open(f"{group.paths['memory']}/{name}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            for path in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(path)
            raise CgroupError(error.errno, f"cannot make a session's cgroup: {error}") from error
        return group

    def _limit(self, group: Group, memory: int, tasks: int) -> None:
        _write(f"{group.paths['pids']}/pids.max", str(tasks))
        memory_group = group.paths["memory"]
        if self.version == 2:
            _write(f"{memory_group}/memory.max", str(memory))
            _write_if_present(f"{memory_group}/memory.swap.max", "0")
        else:
            _write(f"{memory_group}/memory.limit_in_bytes", str(memory))
            _write_if_present(f"{memory_group}/memory.memsw.limit_in_bytes", str(memory))

    def oom_kills(self, group: Group) -> int:
        """How many of the session's processes the kernel killed for want of memory."""
        try:
            events = os.pread(group.events, 4096, 0)
        except OSError:
            return 0
        found = re.search(rb"^oom_kill (\d+)$", events, re.M)
        return int(found[1]) if found else 0

    def release(self, group: Group) -> None:
        """Remove the group once its processes are gone (they may take a moment to exit)."""
        with contextlib.suppress(OSError):
            os.close(group.events)
        if not _remove(group):
            self._doomed.append(group)

    def sweep(self) -> None:
        self._doomed = [group for group in self._doomed if not _remove(group)]

    # --- the pool ------------------------------------------------------------------------

    def close(self, wait: float = 5.0) -> None:
        """Remove the sessions' groups, put the pool back where it was, remove its group."""
        deadline = time.monotonic() + wait
        self.sweep()
        while self._doomed and time.monotonic() < deadline:
            time.sleep(0.05)
            self.sweep()
        for path in reversed(self.enabled):
            _write_if_present(f"{path}/{SUBTREE}", _toggles(self.controllers, "-"))
        for path in self.home:
            with contextlib.suppress(OSError):
                _write(f"{path}/cgroup.procs", "0")
        for path in {self.pool_group, *self.tops.values()}:
            with contextlib.suppress(OSError):
                os.rmdir(path)

    def describe(self) -> str:
        return (
            f"cgroup v{self.version} ({', '.join(self.controllers)}): each session's memory "
            "counts its processes, copy-on-write pages, /tmp, /dev/shm, /mnt/data, memfd files "
            "and kernel memory; all sessions and the pool together at most "
            f"{self.total_bytes // MIB} MiB"
        )


def for_this_pool(name: str, total_mb: int) -> Cgroups:
    """Make the pool's group (v2 if delegated, else v1) and move this process into it."""
    mounts, memberships = _mounts(), _memberships()
    reasons = []
    for attempt in (_v2, _v1_as_root):
        try:
            return attempt(name, total_mb, mounts, memberships)
        except CgroupError as error:
            reasons.append(str(error))
    raise CgroupError("; ".join(reasons))


def _v2(name: str, total_mb: int, mounts, memberships) -> Cgroups:
    mount = next((m for m in mounts if m.fstype == "cgroup2"), None)
    own = _locate(memberships.get(""), mount)
    if mount is None or own is None:
        raise CgroupError("cgroup v2: not mounted, or this process's group is not visible")
    parent, opens = _v2_parent(own, mount.point)
    offered = _read(f"{parent}/{'cgroup.controllers' if opens else SUBTREE}").split()
    missing = [c for c in REQUIRED if c not in offered]
    if missing:
        raise CgroupError(
            f"cgroup v2: {parent} offers {', '.join(offered) or 'no controllers'}, "
            f"not {', '.join(missing)}"
        )
    _remove_stale(parent)
    controllers = [c for c in (*REQUIRED, *OPTIONAL) if c in offered]
    top = f"{parent}/{name}"
    groups = Cgroups(2, dict.fromkeys(controllers, top), [own], f"{top}/pool", 0)
    try:
        os.mkdir(top)
        os.mkdir(groups.pool_group)
        _write(f"{groups.pool_group}/cgroup.procs", "0")
        for path in [parent, top] if opens else [top]:
            _write(f"{path}/{SUBTREE}", _toggles(controllers, "+"))
            groups.enabled.append(path)
        groups.total_bytes = _budget(total_mb, _v2_ceiling(parent, mount.point))
        _write(f"{top}/memory.max", str(groups.total_bytes))
    except OSError as error:
        groups.close(wait=0)
        raise CgroupError(f"cgroup v2: cannot set up {top}: {error}") from error
    return groups


def _v2_parent(own: str, root: str) -> tuple[str, bool]:
    """Where the pool's group goes, and whether the pool must open that place's subtree.
    A group holding only the pool is delegated to it (a unit with Delegate=yes, a container's
    own namespace). Root sharing its group (a login shell's scope) makes its group at the top
    of the hierarchy instead, as container engines do, where the controllers are open."""
    others = [p for p in _read(f"{own}/cgroup.procs").split() if int(p) != os.getpid()]
    if not others:
        if not all(os.access(f"{own}/{f}", os.W_OK) for f in ("cgroup.procs", SUBTREE)):
            raise CgroupError(f"cgroup v2: {own} is not delegated to uid {os.geteuid()}")
        return own, True
    if os.geteuid() == 0:
        return root, False
    raise CgroupError(
        f"cgroup v2: {own} holds other processes too; give the pool a cgroup of its own "
        "(for example systemd-run --scope -p Delegate=yes)"
    )


def _v1_as_root(name: str, total_mb: int, mounts, memberships) -> Cgroups:
    here = {}
    for controller in (*REQUIRED, *OPTIONAL):
        mount = next((m for m in mounts if m.fstype == "cgroup" and controller in m.super), None)
        path = _locate(memberships.get(controller), mount)
        if path is not None and os.access(f"{path}/cgroup.procs", os.W_OK):
            here[controller] = path
        elif controller in REQUIRED:
            uid = os.geteuid()
            raise CgroupError(f"cgroup v1: no writable {controller} hierarchy for uid {uid}")
    for path in set(here.values()):
        _remove_stale(path)
    tops = {controller: f"{path}/{name}" for controller, path in here.items()}
    groups = Cgroups(1, tops, [here["memory"]], tops["memory"], 0)
    try:
        for top in set(tops.values()):
            os.mkdir(top)
        ceiling = _counters(f"{here['memory']}/memory.stat").get("hierarchical_memory_limit")
        groups.total_bytes = _budget(total_mb, ceiling)
        _write(f"{tops['memory']}/memory.limit_in_bytes", str(groups.total_bytes))
        _write_if_present(f"{tops['memory']}/memory.memsw.limit_in_bytes", str(groups.total_bytes))
        # The pool joins its group for memory only: what it writes into sessions' folders
        # (uploads, files carried over to a replacement) then counts against the total.
        _write(f"{tops['memory']}/cgroup.procs", "0")
    except OSError as error:
        groups.close(wait=0)
        raise CgroupError(f"cgroup v1: cannot set up {tops['memory']}: {error}") from error
    return groups


def _budget(total_mb: int, ceiling: int | None) -> int:
    """SESSION_POOL_TOTAL_MEMORY_MB, or three quarters of what this host and group allow."""
    if total_mb:
        return total_mb * MIB
    available = host_memory()
    if ceiling and ceiling < UNLIMITED:
        available = min(available, ceiling)
    return available // 4 * 3


def host_memory() -> int:
    with open("/proc/meminfo") as file:
        for line in file:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise CgroupError("no MemTotal in /proc/meminfo")


def _v2_ceiling(path: str, mount_point: str) -> int | None:
    """The lowest memory.max of this group and its ancestors inside the mount."""
    lowest = None
    while path.startswith(mount_point) and path != mount_point:
        with contextlib.suppress(OSError, ValueError):
            value = int(_read(f"{path}/memory.max"))
            lowest = value if lowest is None else min(lowest, value)
        path = os.path.dirname(path)
    return lowest


def _remove_stale(parent: str) -> None:
    """Groups left by a pool that was killed outright: empty once its sessions ended."""
    for entry in os.scandir(parent):
        name, _, pid = entry.name.rpartition("-")
        if name == "sessionpool" and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            _remove_tree(entry.path)


def _remove_tree(path: str) -> None:
    with contextlib.suppress(OSError):
        for entry in os.scandir(path):
            if entry.is_dir(follow_symlinks=False):
                _remove_tree(entry.path)
        os.rmdir(path)


def _remove(group: Group) -> bool:
    for controller, path in list(group.paths.items()):
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            return False
        del group.paths[controller]
    return True


# --- the kernel's files --------------------------------------------------------------------


@dataclass
class _Mount:
    root: str
    point: str
    fstype: str
    super: set[str]


def _mounts() -> list[_Mount]:
    mounts = []
    with open("/proc/self/mountinfo") as file:
        for line in file:
            left, _, right = line.partition(" - ")
            fields, (fstype, _source, options) = left.split(), right.split()[:3]
            if fstype in ("cgroup", "cgroup2") and "rw" in fields[5].split(","):
                root, point = _unescape(fields[3]), _unescape(fields[4])
                mounts.append(_Mount(root, point, fstype, set(options.split(","))))
    return mounts


def _memberships() -> dict[str, str]:
    """Controller -> this process's group; "" for the v2 hierarchy."""
    found = {}
    with open("/proc/self/cgroup") as file:
        for line in file:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                found[controller] = path
    return found


def _locate(path: str | None, mount: _Mount | None) -> str | None:
    """Where the group at `path` (as /proc/self/cgroup names it) is in the file system."""
    if path is None or mount is None:
        return None
    if mount.root != "/":
        if path != mount.root and not path.startswith(mount.root + "/"):
            return None
        path = path[len(mount.root) :]
    located = os.path.normpath(mount.point + "/" + path.lstrip("/"))
    return located if os.path.isdir(located) else None


def _unescape(text: str) -> str:
    """mountinfo writes a space, tab, newline or backslash in a path as octal: \\040."""
    return re.sub(r"\\([0-7]{3})", lambda code: chr(int(code[1], 8)), text)


def _read(path: str) -> str:
    with open(path) as file:
        return file.read().strip()


def _counters(path: str) -> dict[str, int]:
    counters = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            counters[key] = int(value)
    return counters


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _write_if_present(path: str, text: str) -> None:
    with contextlib.suppress(OSError):
        _write(path, text)


def _toggles(controllers: list[str], sign: str) -> str:
    return " ".join(f"{sign}{c}" for c in controllers)
