"""The conversation store on PostgreSQL (DATABASE_URL): the same code path as SQLite."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from conversations import ConversationStore, build_engine
from tests.support.servers import free_port

# Debian's layout: /usr/lib/postgresql/<major>/bin; the newest installed major is used.
PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
PG_BIN = PG_BINS[-1] if PG_BINS else Path("/usr/lib/postgresql/missing/bin")
PASSWORD = "a-token-of-the-moment"


def _as_postgres_user(args: list[str]) -> list[str]:
    # initdb refuses to run as root; the Debian package brings a `postgres` user.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL is missing: `make install` installs Debian's `postgresql`")
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
    # Password sign-in over TCP, as Azure's server asks (there the password is an Entra token).
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
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"  # no password here
    finally:
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


def test_postgres_keeps_turns_lists_newest_first_and_deletes(postgres_url, tmp_path):
    store = ConversationStore(build_engine(postgres_url, tmp_path, lambda: PASSWORD))
    store.create_tables()
    step = {"index": 0, "code": "25 * 847", "status": "Success", "result": 21175, "images": []}
    store.append_turn(
        "u", "c1", "What is 25 * 847?", {"output": "21175", "route": "python", "steps": [step]}
    )
    store.append_turn("u", "c2", "hello", {"output": "hi", "route": "chat", "steps": []})

    assert [c["id"] for c in store.list("u")] == ["c2", "c1"]
    messages = store.get("u", "c1")["messages"]
    assert messages[1]["steps"] == [step] and messages[1]["route"] == "python"
    assert store.history("u", "c1", limit=1)[0]["content"] == "21175"
    assert store.get("other-user", "c1") is None
    assert store.delete("u", "c1") and store.get("u", "c1") is None
    store.close()


def test_each_new_connection_signs_in_with_a_fresh_password(postgres_url, tmp_path):
    issued = []

    def token() -> str:
        issued.append(PASSWORD)
        return PASSWORD

    engine = build_engine(postgres_url, tmp_path, token)
    with engine.connect() as first, engine.connect() as second:
        assert first.scalar(sqlalchemy.text("select 1")) == second.scalar(
            sqlalchemy.text("select 1")
        )
    assert len(issued) == 2
    engine.dispose()

    wrong = build_engine(postgres_url, tmp_path, lambda: "an-expired-token")
    with pytest.raises(sqlalchemy.exc.OperationalError, match="password authentication failed"):
        wrong.connect()
