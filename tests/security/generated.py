"""Schemathesis in its generated mode, as its CLI runs it, bounded in time for `make test`.

Coverage (boundary and wrong-type values for every parameter and body field), fuzzing
(random valid and invalid requests) and stateful (operations chained through the values
they return) phases, with a fixed seed. Any 5xx, request error or time-out fails the run.
"""

import subprocess
import sys
import tempfile
from collections.abc import Mapping

# The same inputs on every run, so a failure in CI can be reproduced.
SEED = 16


def run_generated(
    schema: str,
    base_url: str,
    *,
    seconds: int,
    examples: int,
    headers: Mapping[str, str] | None = None,
    request_timeout: float = 60.0,
) -> None:
    """Fuzz every operation of `schema` (a URL or a file) against `base_url` for `seconds`;
    raises AssertionError with Schemathesis' own report (and curl lines) on a failure."""
    command = [sys.executable, "-m", "schemathesis.cli", "run", schema, "--url", base_url]
    command += ["--phases", "coverage,fuzzing,stateful", "--mode", "all"]
    command += ["--checks", "not_a_server_error", "--max-time", str(seconds)]
    command += ["--max-examples", str(examples), "--seed", str(SEED), "--workers", "1"]
    command += ["--request-timeout", str(request_timeout), "--generation-database", "none"]
    command += ["--suppress-health-check", "all", "--warnings", "off", "--no-color"]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as scratch:  # where it keeps its replay records
        done = subprocess.run(
            command,
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=seconds + 10 * request_timeout + 120,
        )
    assert done.returncode == 0, _report(done.stdout + done.stderr)
    print(done.stdout[done.stdout.find("=== SUMMARY") :])  # shown by pytest -rP


def _report(output: str) -> str:
    """From the first failure on: what failed and how to reproduce it."""
    start = output.find("=== FAILURES")
    start = output.find("=== ERRORS") if start < 0 else start
    return output[start:] if start >= 0 else output[-20000:]
