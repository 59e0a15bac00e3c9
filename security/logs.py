"""Log hygiene: a filter that removes tokens, keys and known secrets from every log record."""

import logging
import re
from collections.abc import Iterable

_REDACTED = "[REDACTED]"
_PATTERNS = [
    # Authorization headers and bearer tokens wherever they are written.
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    # Header or field names that carry a secret, in "name: value", "name=value", JSON or dicts.
    re.compile(
        r"(?i)([\"']?\b(?:x-api-key|api[_-]?key|authorization|access[_-]?token|token|secret|"
        r"password|client[_-]?secret)[\"']?\s*[:=]\s*[\"']?)(?!(?:bearer|basic)\s)[^\s\"'&,;}]+"
    ),
    # JSON Web Tokens on their own.
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
]


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's final text, so a secret passed as an argument is caught too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, _REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(_substitute, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.redact(text) != text:
            self._redact_message(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True

    def _redact_message(self, record: logging.LogRecord) -> None:
        # Redact the arguments alone first: some formatters (uvicorn's access log) need them.
        # Only when a secret spans the message and an argument, collapse both into one string.
        full = self.redact(record.getMessage())
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact_value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._redact_value(v) for k, v in record.args.items()}
        text = record.getMessage()
        if self.redact(text) != text:
            record.msg, record.args = full, None

    def _redact_value(self, value: object) -> object:
        return self.redact(value) if isinstance(value, str) else value


def _substitute(match: re.Match) -> str:
    prefix = match.group(1) if match.groups() else ""
    if prefix.lower() in ("bearer", "basic"):
        return f"{prefix} {_REDACTED}"
    return f"{prefix}{_REDACTED}"


def install_log_redaction(
    secrets: Iterable[str] = (), loggers: Iterable[str] = ("", "uvicorn", "uvicorn.access")
) -> RedactSecretsFilter:
    """Put one filter on every handler of the given loggers (root and uvicorn's by default)."""
    redactor = RedactSecretsFilter(secrets)
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if redactor not in handler.filters:
                handler.addFilter(redactor)
    return redactor
