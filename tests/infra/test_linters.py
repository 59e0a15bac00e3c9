"""checkov on the Bicep and the Dockerfile, hadolint on the Dockerfile: all must pass offline."""

import json

from tests.infra.helpers import BICEP_FILES, ROOT, run, tool

# --skip-download keeps checkov offline (it otherwise fetches guidelines from its vendor).
CHECKOV = ["--skip-download", "--compact", "--output", "json"]


def _checkov(*args: str) -> dict:
    done = run([tool("checkov"), *args, *CHECKOV])
    report = json.loads(done.stdout) if done.stdout.strip().startswith(("{", "[")) else None
    assert report is not None, f"checkov printed no report:\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, f"checkov failed:\n{json.dumps(report, indent=1)[:20000]}"
    return report


def test_bicep_passes_checkov_with_every_skip_justified():
    report = _checkov("--directory", "infra", "--framework", "bicep")
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, summary
    # checkov drops files it cannot parse, so check it really read every one.
    assert summary["resource_count"] >= len(BICEP_FILES), summary
    assert summary["failed"] == 0
    assert summary["passed"] > 0, summary
    for skipped in report["results"]["skipped_checks"]:
        reason = (skipped["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) > 20, f"{skipped['check_id']} skipped without a reason: {reason!r}"


def test_dockerfile_passes_checkov():
    report = _checkov("--file", "Dockerfile", "--framework", "dockerfile")
    assert report["summary"]["failed"] == 0


def test_dockerfile_passes_hadolint():
    done = run([tool("hadolint"), "--no-color", ROOT / "Dockerfile"])
    assert done.returncode == 0, f"hadolint:\n{done.stdout}{done.stderr}"


def test_hadolint_really_lints():
    # A linter that accepts anything would make the test above worthless.
    bad = "FROM python:latest\nRUN cd /tmp && pip install requests\n"
    done = run([tool("hadolint"), "--no-color", "-"], input_text=bad)
    assert done.returncode != 0 and "DL3007" in done.stdout, done.stdout
