"""No token, key or configured secret reaches a log line."""

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from security.logs import RedactSecretsFilter, install_log_redaction

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJhYmMifQ.c2lnbmF0dXJlLWJ5dGVz"
KEY = "k3y-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def captured() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.security.redaction")
    logger.handlers, logger.propagate = [handler], False
    install_log_redaction(secrets=["pool-token-secret-value"], loggers=[logger.name])
    yield logger, stream
    logger.handlers = []


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("headers: %s", ({"Authorization": f"Bearer {KEY}"},)),
        ("Authorization: Bearer %s", (KEY,)),
        ("X-API-Key: %s", (KEY,)),
        ("calling with token=%s", (KEY,)),
        ("got %s", (JWT,)),
        ("pool answered with %s", ("pool-token-secret-value",)),
        ('{"api_key": "%s"}', (KEY,)),
    ],
)
def test_secrets_are_redacted_and_the_rest_kept(captured, message: str, args: tuple) -> None:
    logger, stream = captured
    logger.warning(message, *args)
    line = stream.getvalue()
    assert KEY not in line and JWT not in line and "pool-token-secret-value" not in line
    assert "[REDACTED]" in line
    assert message.split()[0].strip("{\"'") in line


def test_a_token_in_an_exception_is_redacted(captured) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"upstream refused Bearer {KEY}")
    except RuntimeError:
        logger.exception("call failed")
    assert KEY not in stream.getvalue()
    assert "call failed" in stream.getvalue()


def test_uvicorn_access_lines_keep_their_shape_without_the_key() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/chat?message=hi&api_key={KEY}", "1.1", 200),
        None,
    )
    assert RedactSecretsFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert KEY not in line
    assert "GET /chat?message=hi&api_key=[REDACTED]" in line
    assert line.endswith("200 OK")
