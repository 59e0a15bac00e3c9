"""Schemathesis against the real local session pool: no 5xx for any input, generated or
fixed, and every answer to a valid request as documented."""

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import start_session_pool
from tests.security.generated import run_generated
from tests.security.pool_openapi import FUZZ_IDENTIFIERS, SESSIONS, pool_openapi

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
schema = schemathesis.openapi.from_dict(pool_openapi())


@pytest.fixture(scope="module")
def pool(session_pool):
    """The shared pool; the sessions fuzzing made are deleted afterwards."""
    yield session_pool
    headers = {"Authorization": f"Bearer {session_pool.api_key}"}
    for identifier in FUZZ_IDENTIFIERS:
        params = {"api-version": SESSIONS[-1], "identifier": identifier}
        httpx.delete(f"{session_pool.endpoint}/session", params=params, headers=headers)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,  # the same examples on every run: CI stays reproducible
)
def test_valid_requests_are_answered_as_documented(case, pool) -> None:
    case.call_and_validate(
        base_url=pool.endpoint,
        headers={"Authorization": f"Bearer {pool.api_key}"},
        checks=CHECKS,
        timeout=30,
    )


def test_requests_without_the_key_are_refused_with_azures_error_body(pool) -> None:
    params = {"api-version": SESSIONS[-1], "identifier": FUZZ_IDENTIFIERS[0]}
    missing = httpx.get(f"{pool.endpoint}/session", params=params)
    wrong = httpx.get(
        f"{pool.endpoint}/session", params=params, headers={"Authorization": "Bearer nope"}
    )
    assert missing.status_code == 401 and wrong.status_code == 403
    assert missing.json()["error"]["code"] and wrong.headers["x-ms-error-code"]


def test_an_unroutable_path_gets_azures_json_error(pool) -> None:
    response = httpx.get(
        f"{pool.endpoint}/files/content/a%0Ab",
        params={"api-version": "2024-02-02-preview", "identifier": FUZZ_IDENTIFIERS[0]},
        headers={"Authorization": f"Bearer {pool.api_key}"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"]


def test_generated_requests_never_get_a_server_error(tmp_path) -> None:
    """Every operation with generated valid and invalid input (wrong types, nulls, bad
    api-versions and identifiers, boundaries), on a pool of its own: invalid identifiers
    start sessions too, and a small pool that forgets them soon bounds what that costs."""
    schema = tmp_path / "pool-openapi.json"
    schema.write_text(json.dumps(pool_openapi()))
    with start_session_pool(max_sessions=8, cooldown_seconds=15) as own:
        headers = {"Authorization": f"Bearer {own.api_key}"}
        run_generated(str(schema), own.endpoint, seconds=90, examples=10, headers=headers)
