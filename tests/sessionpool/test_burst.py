"""A burst of new sessions over real HTTP, all at once: each is isolated and limited as a session
started alone, the cap answers 429 (never a 5xx) and nothing wedges; once deleted, nothing is
left behind. Starts overlap (see Pool._top_up); timing is never asserted."""

import ast
import os
import textwrap
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sessionpool.linux import descendants
from tests.conftest import start_session_pool
from tests.sessionpool.conftest import GEN1, GEN2, PoolClient, new_id

CAP = 12
BURST = CAP + 4
SETTINGS = {
    "ready_sessions": 1,
    "max_sessions": CAP,
    "memory_mb": 256,
    "max_processes": 16,
    "disk_mb": 16,
    "tmp_mb": 8,
}
SETTLED = {"live": 0, "busy": 0, "ready": 1, "starting": 0, "waiting": 0}
# What a session says of itself, and a file only it should see.
PROBE = textwrap.dedent(
    """
    import os, resource
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    open("/mnt/data/owner.txt", "w").write(IDENTIFIER)
    kept = IDENTIFIER
    str((
        os.getuid(),
        status["Seccomp"].strip(),
        status["NoNewPrivs"].strip(),
        int(status["CapEff"], 16),
        resource.getrlimit(resource.RLIMIT_NPROC)[0],
        sorted(os.listdir("/mnt/data")),
        open("/mnt/data/owner.txt").read(),
    ))
    """
)


@pytest.fixture(scope="module")
def pool():
    with start_session_pool(**SETTINGS) as running:
        client = PoolClient(running)
        with client.http:
            yield client


def _first_call(pool: PoolClient, identifier: str) -> httpx.Response:
    with httpx.Client(base_url=pool.pool.endpoint, timeout=300) as http:
        return http.post(
            "/code/execute",
            params={"identifier": identifier, "api-version": GEN1},
            headers={"Authorization": f"Bearer {pool.pool.api_key}"},
            json={"properties": {"code": f"IDENTIFIER = {identifier!r}\n{PROBE}"}},
        )


def _burst(pool: PoolClient, identifiers: list[str]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(identifiers)) as threads:
        return list(threads.map(lambda i: _first_call(pool, i), identifiers))


def _session_processes(pool: PoolClient) -> dict[int, str]:
    """Every process of a session (below the fork server, in a PID namespace of its own) and
    its cgroup as /proc shows it (the memory hierarchy's, or v2's)."""
    found = {}
    for pid in descendants(pool.pool.process.pid):
        try:
            with open(f"/proc/{pid}/status") as file:
                nspid = next(line for line in file if line.startswith("NSpid:"))
            with open(f"/proc/{pid}/cgroup") as file:
                lines = [line.strip().split(":", 2) for line in file]
        except (OSError, StopIteration):
            continue
        if len(nspid.split()) > 2:
            memory = [p for _, c, p in lines if "memory" in c.split(",")]
            found[pid] = (memory or [p for _, c, p in lines if c == ""] or [""])[0]
    return found


def _has_cgroups(pool: PoolClient) -> bool:
    health = pool.http.get("/healthz").json()
    return any("cgroup" in line for line in health["bounded"])


def test_a_burst_of_new_sessions_is_isolated_limited_and_capped(pool):
    identifiers = [new_id() for _ in range(BURST)]
    answers = _burst(pool, identifiers)

    statuses = [a.status_code for a in answers]
    assert sorted(set(statuses)) == [200, 429], [a.text for a in answers if a.status_code >= 500]
    assert statuses.count(200) == CAP
    served = [i for i, a in zip(identifiers, answers, strict=True) if a.status_code == 200]
    for identifier, answer in zip(identifiers, answers, strict=True):
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
            continue
        properties = answer.json()["properties"]
        assert properties["status"] == "Success", properties["stderr"]
        uid, seccomp, no_new_privs, capabilities, nproc, files, owner = ast.literal_eval(
            properties["result"]
        )
        assert (uid, seccomp, no_new_privs, capabilities) == (1000, "2", "1", 0)
        assert nproc == SETTINGS["max_processes"]
        assert (files, owner) == (["owner.txt"], identifier)  # its own /mnt/data, no other's

    # Each kept its own interpreter, and a second call in every one answers.
    for identifier in served:
        assert pool.value("kept", identifier) == identifier

    processes = _session_processes(pool)
    if _has_cgroups(pool):
        # A cgroup of its own per session: its init and kernel share one, no other session does
        # (a ready session still starting may have only its init yet).
        groups = Counter(processes.values())
        assert all("/session-" in group for group in groups), groups
        assert max(groups.values()) == 2 and list(groups.values()).count(2) >= CAP, groups


def test_after_a_burst_nothing_is_left_and_new_sessions_start(pool):
    _delete_all(pool)  # those of the test before
    identifiers = [new_id() for _ in range(CAP)]
    assert [a.status_code for a in _burst(pool, identifiers)] == [200] * CAP
    _delete_all(pool)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = pool.http.get("/healthz").json()["sessions"]
        processes = _session_processes(pool)
        # Only the ready session is left: its init and its kernel; no start, no call waiting.
        if counts == SETTLED and len(processes) == 2:
            break
        time.sleep(0.2)
    assert counts == SETTLED
    assert len(processes) == 2, processes
    if _has_cgroups(pool):
        assert _session_groups_left(pool, processes) == set(processes.values())

    # Nothing wedged: the pool takes a full burst again.
    again = [new_id() for _ in range(CAP)]
    assert [a.status_code for a in _burst(pool, again)] == [200] * CAP


def _delete_all(pool: PoolClient) -> None:
    listed = pool.http.get("/listSessions", params={"api-version": GEN2})
    assert listed.status_code == 200, listed.text
    for session in listed.json()["sessions"]:
        params = {"identifier": session["identifier"], "api-version": GEN2}
        response = pool.http.delete("/session", params=params)
        assert response.status_code in (200, 204), response.text


def _session_groups_left(pool: PoolClient, processes: dict[int, str]) -> set[str]:
    """The session groups still in the pool's cgroup directory (v1 memory or v2), within the
    sweep's period; empty when that directory is not mounted where /proc says."""
    group = next(iter(processes.values()))
    parent = os.path.dirname(group)
    for root in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup"):
        directory = f"{root}{parent}"
        if os.path.isdir(directory):
            deadline = time.monotonic() + 10
            while True:
                left = {f"{parent}/{n}" for n in os.listdir(directory) if n.startswith("session-")}
                if len(left) <= 1 or time.monotonic() > deadline:
                    return left
                time.sleep(0.2)
    return set(processes.values())


def test_each_sessions_init_holds_no_copy_of_the_interpreter(pool):
    """PID 1 of a session is session_init.c (make builds it): a few hundred KiB, where a copy
    of the fork server held its page tables and the pages it touched."""
    if pool.http.get("/healthz").json()["isolation"] != "namespaces":
        pytest.skip("only the namespaces tier gives a session a PID namespace and an init")
    _delete_all(pool)
    pool.run("1 + 1", new_id())
    deadline = time.monotonic() + 30
    while True:  # a ready session still starting has its init before it becomes the program
        inits = _inits(pool)
        if all(name == "session-init" for name, _, _ in inits) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert inits
    for name, page_tables, resident in inits:
        assert name == "session-init", f"{inits}; is it built? make session-env builds it"
        assert page_tables < 64 and resident < 4096, inits


def _inits(pool: PoolClient) -> list[tuple[str, int, int]]:
    """Name, page tables and resident KiB of each session's PID 1."""
    inits = []
    for pid in _session_processes(pool):
        try:
            with open(f"/proc/{pid}/status") as file:
                status = dict(line.split(":", 1) for line in file)
        except OSError:
            continue
        # A process that is exiting (a deleted session's) has no memory left to show.
        if status["NSpid"].split()[-1] == "1" and "VmPTE" in status:
            inits.append((status["Name"].strip(), _kib(status["VmPTE"]), _kib(status["VmRSS"])))
    return inits


def _kib(field: str) -> int:
    return int(field.split()[0])
