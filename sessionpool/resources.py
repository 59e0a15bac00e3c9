"""What bounds each session's memory, processes and CPU on this host, decided at start-up."""

import os
from dataclasses import dataclass, field

from sessionpool import cgroups
from sessionpool.settings import PoolSettings

MIB = cgroups.MIB


@dataclass
class Resources:
    """The pool's cgroups (or None), the session cap that fits, and what is (not) bounded."""

    cgroups: cgroups.Cgroups | None
    max_sessions: int
    bounded: list[str] = field(default_factory=list)
    unbounded: list[str] = field(default_factory=list)

    def process_memory_mb(self, memory_mb: int) -> int:
        """The address space each process may add: with a cgroup counting the session's total,
        a little less, so that one runaway allocation is a MemoryError, not a killed session."""
        return memory_mb - memory_mb // 8 if self.cgroups else memory_mb


def take(settings: PoolSettings) -> Resources:
    """Before the fork server starts (it must start inside the pool's group)."""
    try:
        groups = cgroups.for_this_pool(f"sessionpool-{os.getpid()}", settings.total_memory_mb)
    except cgroups.CgroupError as error:
        unbounded = [f"memory, processes and CPU per session: no cgroups ({error})"]
        return Resources(None, settings.max_sessions, unbounded=unbounded)
    if settings.memory_mb * MIB > groups.total_bytes:
        groups.close()
        raise ValueError(
            f"SESSION_POOL_MEMORY_MB ({settings.memory_mb}) is more than all sessions may use "
            f"together ({groups.total_bytes // MIB} MiB); lower it or raise "
            "SESSION_POOL_TOTAL_MEMORY_MB"
        )
    resources = Resources(groups, settings.max_sessions)
    resources.bounded += [
        f"memory: {settings.memory_mb} MiB per session in all; {groups.describe()}",
        f"processes: {settings.max_processes} per session (cgroup pids)",
    ]
    if "cpu" in groups.controllers:
        resources.bounded.append("cpu: an equal weight per session (cgroup cpu)")
    else:
        resources.unbounded.append("cpu: shared without weights (no cpu controller)")
    return resources


def fit(resources: Resources, settings: PoolSettings, tier: str) -> None:
    """Without cgroups, a session's tmpfs mounts are not counted in its memory: cap the number
    of sessions so that all of them full cannot exhaust the host (namespaces tier only; the
    other tiers keep their files on disk)."""
    if resources.cgroups is not None:
        return
    resources.bounded.append(
        f"memory: {settings.memory_mb} MiB of address space per process, not per session; "
        "memfd files and tmpfs files are not counted"
    )
    if tier == "namespaces":
        resources.bounded.append(
            f"processes: {settings.max_processes} per session (rlimit in its user namespace)"
        )
    elif tier == "landlock" and os.geteuid() == 0:
        resources.bounded.append(
            f"processes: {settings.max_processes} per session (rlimit on its own host uid)"
        )
    else:
        resources.unbounded.append("processes: not limited per session (one shared uid)")
    resources.unbounded.append("cpu: shared without weights; CPU time limited per process")
    if tier == "namespaces":
        _cap_tmpfs(resources, settings)


def _cap_tmpfs(resources: Resources, settings: PoolSettings) -> None:
    per_session = settings.disk_mb + 2 * settings.tmp_mb
    budget = (settings.total_memory_mb * MIB or cgroups.host_memory() // 4 * 3) // MIB
    fits = budget // per_session
    if fits < 1:
        raise ValueError(
            f"one session's /mnt/data, /tmp and /dev/shm ({per_session} MiB) do not fit in "
            f"{budget} MiB of memory; lower SESSION_POOL_DISK_MB or SESSION_POOL_TMP_MB"
        )
    if fits < settings.max_sessions:
        resources.max_sessions = fits
        resources.unbounded.append(
            f"sessions: at most {fits}, not {settings.max_sessions}: without cgroups each "
            f"session's /mnt/data, /tmp and /dev/shm ({per_session} MiB) are not counted in its "
            f"memory, and {settings.max_sessions} of them would exceed {budget} MiB (the memory "
            "the pool allows itself); lower SESSION_POOL_DISK_MB or SESSION_POOL_TMP_MB, or "
            "give the pool cgroups"
        )
