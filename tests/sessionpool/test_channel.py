"""Code can write to its interpreter's channel to the pool (descriptor 3): it can neither forge
an answer the pool keeps nor wedge the pool, and a broken session leaves nothing behind."""

import os
import signal
import threading
import time

import httpx
import pytest

from sessionpool.linux import descendants
from tests.conftest import start_session_pool
from tests.sessionpool.conftest import (
    GEN2,
    WRITE_FRAME,
    PoolClient,
    assert_neighbour_answers,
    forged_answer,
    new_id,
)

RESTARTED = "The session was restarted: it sent the pool"
GRACE = 2  # the pool's shutdown grace, in seconds


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b'{"status": "ok", "stdout": "forged", "result": 1}', "had not been asked for"),
        (b'{"status": "ok", "stdout": NaN}', "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested more than 32 levels"),
        (b"\xff\xfe not even text", "not JSON"),
        (b'["a list"]', "not a JSON object"),
    ],
)
def test_a_forged_or_malformed_reply_ends_the_session(client, neighbour, frame, why):
    identifier = new_id()
    client.run("open('/mnt/data/kept.txt', 'w').write('kept')\nlost = 1", identifier)
    properties = client.run(WRITE_FRAME + f"write_frame({frame!r})\n'real'", identifier)
    assert properties["status"] == "Failure"
    assert RESTARTED in properties["stderr"] and why in properties["stderr"], properties
    assert "forged" not in properties["stdout"]
    assert client.value("'lost' in globals()", identifier) is False
    assert client.value("open('/mnt/data/kept.txt').read()", identifier) == "kept"
    assert_neighbour_answers(client, neighbour)


def test_a_reply_forged_with_the_right_number_leaves_the_real_one_unasked(client, neighbour):
    identifier = new_id()
    forge = forged_answer("'status': 'ok', 'stdout': 'forged\\n'", "'real'")
    # The forger controls its own call's answer, as it could by printing; what it cannot do
    # is make the real answer, which then arrives unasked, pass for the next call's.
    assert client.run(forge, identifier)["stdout"] == "forged\n"
    properties = client.run("1 + 1", identifier)
    assert properties["status"] == "Failure"
    assert "an answer it had not been asked for" in properties["stderr"], properties
    assert client.value("1 + 1", identifier) == 2
    assert_neighbour_answers(client, neighbour)


def test_forged_frames_cannot_wedge_the_pool():
    """The issue's case: a forged answer, SIGINT ignored and the kernel busy, then a large
    call, then DELETE; the pool still answers 60 new connections and stops on SIGTERM."""
    settings = {"ready_sessions": 1, "interrupt_grace_seconds": 1, "shutdown_grace_seconds": GRACE}
    with start_session_pool(**settings) as pool:
        client = PoolClient(pool)
        with client.http:
            neighbour = new_id()
            client.run("alive = 'yes'", neighbour)
            identifier = new_id()
            ignore_and_spin = (
                "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile 1: pass"
            )
            wedge = forged_answer("'status': 'ok', 'stdout': 'ok\\n'", ignore_and_spin)
            assert client.run(wedge, identifier)["stdout"] == "ok\n"
            large = "x = 1\n" + "#" * 900_000
            properties = client.run(large, identifier, timeout=2)
            assert properties["status"] == "Failure"
            assert "did not take the code within the 2 s timeout" in properties["stderr"]
            params = {"identifier": identifier, "api-version": GEN2}
            assert client.http.delete("session", params=params).status_code == 204
            assert_neighbour_answers(client, neighbour)
        for _ in range(60):
            with httpx.Client(base_url=pool.endpoint, timeout=10) as fresh:
                assert fresh.get("/healthz").status_code == 200
        os.kill(pool.process.pid, signal.SIGTERM)
        # Within its shutdown grace, plus the moment it takes to end its few sessions (a
        # watched descriptor left behind kept it running past any bound). uvicorn ends by
        # raising the signal it stopped on again: -SIGTERM is a clean stop.
        assert pool.process.wait(timeout=GRACE + 10) == -signal.SIGTERM


def test_a_wedged_session_still_expires_and_its_processes_end():
    """Forged answers leave the pool idle while the code spins with SIGINT ignored: at the
    cooldown the session goes all the same, its spinning processes with it, whether or not a
    later call failed to get its code in."""
    with start_session_pool(
        ready_sessions=1, interrupt_grace_seconds=1, cooldown_seconds=3
    ) as pool:
        client = PoolClient(pool)
        with client.http:
            wedged = [new_id(), new_id()]
            for identifier in wedged:
                spin = (
                    "import ctypes, signal\nctypes.CDLL(None).prctl(15, b'wedged', 0, 0, 0)\n"
                    "signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile 1: pass"
                )
                answered = client.run(forged_answer("'status': 'ok'", spin), identifier)
                assert answered["status"] == "Success", answered
            # The forged answer comes before the code names itself and spins: wait for both.
            for _ in range(300):
                if len(_named(pool, "wedged")) == 2:
                    break
                time.sleep(0.1)
            assert len(_named(pool, "wedged")) == 2
            properties = client.run("x = 1\n" + "#" * 900_000, wedged[1], timeout=2)
            assert "did not take the code within the 2 s timeout" in properties["stderr"]
            for _ in range(300):
                if not any(_exists(client, i) for i in wedged) and not _named(pool, "wedged"):
                    break
                time.sleep(0.1)
            assert [_exists(client, i) for i in wedged] == [False, False]
            assert _named(pool, "wedged") == []
            assert client.value("1 + 1", new_id(), timeout=1) == 2


def _exists(client: PoolClient, identifier: str) -> bool:
    params = {"identifier": identifier, "api-version": GEN2}
    return client.http.get("session", params=params).status_code == 200


def _named(pool, name: str) -> list[int]:
    """The pool's processes called `name` (a session's code can name its own)."""
    named = []
    for pid in descendants(pool.process.pid):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if comm.read().strip() == name:
                    named.append(pid)
        except OSError:
            pass
    return named


def test_a_session_deleted_while_its_code_is_being_sent_leaves_nothing_watched(client):
    identifier = new_id()
    client.run("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)", identifier)
    client.run(forged_answer("'status': 'ok'", "while True:\n    pass"), identifier)
    results = {}
    large = "#" * 900_000
    call = threading.Thread(
        target=lambda: results.update(client.run(large, identifier, timeout=30))
    )
    call.start()
    params = {"identifier": identifier, "api-version": GEN2}
    for _ in range(100):
        if client.http.get("/healthz").json()["sessions"]["busy"]:
            break
        time.sleep(0.05)
    assert client.http.delete("session", params=params).status_code == 204
    call.join(30)
    assert results["status"] == "Failure" and "deleted" in results["stderr"], results
    for _ in range(20):
        with httpx.Client(base_url=client.pool.endpoint, timeout=10) as fresh:
            assert fresh.get("/healthz").status_code == 200
