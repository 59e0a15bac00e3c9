"""A throwaway PostgreSQL cluster on a free loopback port, with password sign-in over TCP."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.servers import free_port

# Debian's layout: /usr/lib/postgresql/<major>/bin; the newest installed major is used.
PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
PG_BIN = PG_BINS[-1] if PG_BINS else Path("/usr/lib/postgresql/missing/bin")
PASSWORD = "a-token-of-the-moment"


def _as_postgres_user(args: list[str]) -> list[str]:
    # initdb refuses to run as root; the Debian package brings a `postgres` user.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def running_postgres() -> Iterator[str]:
    """A SQLAlchemy URL without the password (sign in with PASSWORD, as Azure's server asks,
    where the password is an Entra token)."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL is missing: `make test` installs Debian's `postgresql`")
    # Directly under /tmp: the postgres user cannot enter pytest's root-only directories.
    with tempfile.TemporaryDirectory(prefix="service-pg-") as directory:
        yield from _cluster(Path(directory))


def _cluster(root: Path) -> Iterator[str]:
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    # The server must not inherit our pipes, or waiting for pg_ctl never ends.
    run = lambda *args: subprocess.run(  # noqa: E731
        _as_postgres_user([*args]), check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    password_file = root / "password"
    password_file.write_text(PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(password_file, "postgres")
    run(
        str(PG_BIN / "initdb"),
        *("-D", str(data), "-U", "postgres", f"--pwfile={password_file}"),
        *("--auth-local=trust", "--auth-host=scram-sha-256"),
    )
    port = free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(root / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


def with_password(url: str) -> str:
    """The URL with the password in it, for a service started with DATABASE_URL alone."""
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
