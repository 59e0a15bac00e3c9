"""Expiry, DELETE session, the session cap and the quotas, with a small, short-lived pool."""

import time

import httpx

from tests.sessionpool.conftest import GEN1, GEN2, new_id


def session_exists(pool, identifier: str) -> bool:
    response = pool.http.get("session", params={"identifier": identifier, "api-version": GEN2})
    return response.status_code == 200


def test_idle_sessions_expire_after_the_cooldown(small_pool):
    identifier = new_id()
    small_pool.run("x = 1", identifier)
    assert session_exists(small_pool, identifier)
    for _ in range(100):
        if not session_exists(small_pool, identifier):
            break
        time.sleep(0.1)
    assert not session_exists(small_pool, identifier)
    assert small_pool.value("'x' in globals()", identifier) is False
    small_pool.http.delete("session", params={"identifier": identifier, "api-version": GEN2})


def test_delete_session_frees_it_at_once(small_pool):
    identifier = new_id()
    small_pool.run("x = 1", identifier)
    params = {"identifier": identifier, "api-version": GEN2}
    assert small_pool.http.delete("session", params=params).status_code == 204
    assert not session_exists(small_pool, identifier)
    assert small_pool.value("'x' in globals()", identifier) is False
    small_pool.http.delete("session", params=params)


def test_the_cap_answers_429_with_retry_after(small_pool):
    identifiers = [new_id() for _ in range(3)]
    for identifier in identifiers:
        small_pool.run("1", identifier)
    response = small_pool.http.post(
        "/code/execute",
        params={"identifier": new_id(), "api-version": GEN1},
        json={"properties": {"code": "1"}},
    )
    assert response.status_code == 429
    assert response.headers["x-ms-error-code"] == "SessionLimitReached"
    assert 1 <= int(response.headers["Retry-After"]) <= 2
    assert small_pool.value("2", identifiers[0]) == 2  # live sessions still answer
    for identifier in identifiers:
        small_pool.http.delete("session", params={"identifier": identifier, "api-version": GEN2})
    assert small_pool.value("3", new_id()) == 3


def test_disk_and_tmp_quotas(small_pool):
    identifier = new_id()
    fill = (
        "import errno\ndef fill(folder):\n    try:\n        for n in range(100):\n"
        "            with open(f'{folder}/big{n}', 'wb') as f:\n"
        "                f.write(b'0' * 3_000_000)\n"
        "    except OSError as error:\n        return errno.errorcode[error.errno]\n"
        "(fill('/mnt/data'), fill('/tmp'), fill('/dev/shm'))"
    )
    assert small_pool.value(fill, identifier) == "('ENOSPC', 'ENOSPC', 'ENOSPC')"
    single = (
        "f = open('/tmp/one', 'wb')\ntry:\n    f.write(b'0' * 9_000_000)\nexcept OSError as e:\n"
    )
    single += "    error = e.errno\nimport errno\nerrno.errorcode[error]"
    assert small_pool.value(single, identifier) in ("EFBIG", "ENOSPC")
    files = small_pool.http.get("files", params={"identifier": identifier, "api-version": GEN2})
    assert sum(f["sizeInBytes"] for f in files.json()["value"]) <= 8 * 1024 * 1024
    upload = small_pool.http.post(
        "files",
        params={"identifier": identifier, "api-version": GEN2},
        files={"file": ("more.bin", b"1" * 500_000)},
    )
    assert upload.status_code == 413
    cleanup = (
        "import os\nfor name in os.listdir('/mnt/data'):\n    os.remove('/mnt/data/' + name)\n1"
    )
    assert small_pool.value(cleanup, identifier) == 1
    small_pool.http.delete("session", params={"identifier": identifier, "api-version": GEN2})


def test_code_and_uploads_over_the_limits_are_413(small_pool):
    response = small_pool.http.post(
        "executions",
        params={"identifier": new_id(), "api-version": GEN2},
        json={"code": "#" * 1001},
    )
    assert response.status_code == 413 and response.headers["x-ms-error-code"] == "CodeTooLarge"
    big = small_pool.http.post(
        "files",
        params={"identifier": new_id(), "api-version": GEN2},
        files={"file": ("big.bin", b"0" * (3 * 1024 * 1024))},
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "FileTooLarge"


def test_the_timeout_ceiling_applies(small_pool):
    identifier = new_id()
    started = time.monotonic()
    properties = small_pool.run("import time\ntime.sleep(60)", identifier, timeout=600)
    assert properties["status"] == "Failure" and "5 s timeout" in properties["stderr"]
    assert time.monotonic() - started < 60
    small_pool.http.delete("session", params={"identifier": identifier, "api-version": GEN2})


def test_a_health_check_needs_no_key(small_pool):
    body = httpx.get(f"{small_pool.pool.endpoint}/healthz").json()
    assert body["maxSessions"] == 3


def test_deleting_a_busy_session_ends_its_call(small_pool):
    import threading

    identifier = new_id()
    small_pool.run("1", identifier)
    results = {}
    call = threading.Thread(
        target=lambda: results.update(small_pool.run("import time\ntime.sleep(30)", identifier))
    )
    call.start()
    time.sleep(0.5)
    params = {"identifier": identifier, "api-version": GEN2}
    assert small_pool.http.delete("session", params=params).status_code == 204
    call.join(30)
    assert results["status"] == "Failure" and "deleted" in results["stderr"]
    health = httpx.get(f"{small_pool.pool.endpoint}/healthz").json()["sessions"]
    assert health["live"] == len(
        small_pool.http.get("listSessions", params=params).json()["sessions"]
    )
    small_pool.http.delete("session", params=params)
