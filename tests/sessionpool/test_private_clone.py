"""A clone in a private (0700) folder, as `mktemp -d` makes and as home folders are, runs its
sessions, as root and as an ordinary user, in both isolation tiers: the sessions' uids never
need to pass that folder, since the fork server mounts their environment at /usr/local."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sessionpool import runtime
from tests.sessionpool.conftest import PoolClient, new_id, pool_with_readable_python
from tests.support.servers import ROOT

NOBODY = "65534:65534"
# The working folder: /mnt/data with namespaces, a folder of the session's own with Landlock.
PROBE = "import sys, numpy, pandas\nstr((sys.prefix, numpy.arange(3).sum(), open('f').read()))"


@pytest.fixture
def private_clone(tmp_path) -> Path:
    """The pool's code and its sessions' environment (hard links: no copy of 700 MB) in a
    folder only its owner can pass."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    clone = home / "checkout"
    shutil.copytree(
        ROOT / "sessionpool",
        clone / "sessionpool",
        ignore=shutil.ignore_patterns(".venv", "__pycache__"),
    )
    environment = clone / "sessionpool" / "environment" / ".venv"
    subprocess.run(["cp", "-al", str(runtime.environment()), str(environment)], check=True)
    return clone


def assert_sessions_run(pool) -> None:
    client = PoolClient(pool)
    with client.http:
        identifier = new_id()
        client.run("open('f', 'w').write('kept')", identifier)
        assert client.value(PROBE, identifier) == "('/usr/local', np.int64(3), 'kept')"


@pytest.mark.parametrize("isolation", ["namespaces", "landlock"])
def test_as_root(private_clone, isolation):
    if os.geteuid() != 0:
        pytest.skip("the ordinary user's case is the test below")
    with pool_with_readable_python(
        checkout=private_clone, isolation=isolation, ready_sessions=0
    ) as pool:
        assert_sessions_run(pool)


@pytest.mark.parametrize("isolation", ["namespaces", "landlock"])
def test_as_an_ordinary_user(private_clone, isolation):
    if os.geteuid() != 0:
        pytest.skip("needs root to hand the folder to another user; as a user, the suite is it")
    uid, gid = (int(n) for n in NOBODY.split(":"))
    os.chown(private_clone.parent, uid, gid)  # the user's own private folder
    with pool_with_readable_python(
        as_user=NOBODY, checkout=private_clone, isolation=isolation, ready_sessions=0
    ) as pool:
        assert_sessions_run(pool)
