"""Audit the locked dependencies for known vulnerabilities (`python -m security.audit`).

Uses pip-audit where the index serves per-release JSON (pypi.org does), else PyPI's project
JSON (see security/pypi_vulns.py). Exit 0: no known vulnerability, other than those listed
with a reason in security/audit-ignore.txt; 1: vulnerabilities found; 2: could not audit.
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from security.pypi_vulns import AuditUnavailable, Report, audit_pins, release_json_served

ROOT = Path(__file__).resolve().parents[1]
IGNORE_FILE = ROOT / "security" / "audit-ignore.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def export_lock(target: Path) -> None:
    """Every locked package, all groups, as pinned requirements without the project itself."""
    subprocess.run(
        [str(ROOT / ".tools/bin/uv"), "export", "--frozen", "--no-hashes", "--all-groups"]
        + ["--no-emit-project", "--format", "requirements.txt", "-o", str(target), "--quiet"],
        cwd=ROOT,
        check=True,
    )


def read_pins(requirements: Path) -> list[tuple[str, str]]:
    matches = (_PIN.match(line) for line in requirements.read_text().splitlines())
    return sorted({(m.group(1).lower(), m.group(2)) for m in matches if m})


def read_ignores(path: Path) -> dict[str, str]:
    """`ID  reason` per line; an entry without a reason is an error, not a silent pass."""
    ignores: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"{path.name}:{number}: {vuln_id} needs a reason after the id")
        ignores[vuln_id] = reason.strip()
    return ignores


def run_pip_audit(requirements: Path, ignores: dict[str, str]) -> int:
    command = [sys.executable, "-m", "pip_audit", "-r", str(requirements), "--strict"]
    command += ["--disable-pip", "--no-deps", "--progress-spinner", "off", "--desc", "on"]
    for vuln_id in ignores:
        command += ["--ignore-vuln", vuln_id]
    return subprocess.run(command, check=False).returncode


def report_findings(report: Report, ignores: dict[str, str]) -> int:
    print(f"audited {report.audited} locked packages against PyPI's vulnerability data")
    if report.behind_latest:
        print(
            f"{len(report.behind_latest)} pins are older than their latest release; for them only"
            " vulnerabilities still open in the latest release are known here:"
        )
        print("  " + ", ".join(report.behind_latest))
    found = 0
    for finding in report.findings:
        ignored = [i for i in (finding.id, *finding.aliases) if i in ignores]
        label = f"{finding.package} {finding.version}: {finding.id} {' '.join(finding.aliases)}"
        if ignored:
            print(f"ignored {label} ({ignores[ignored[0]]})")
            continue
        found += 1
        fix = ", ".join(finding.fixed_in) or "no fixed release"
        print(f"VULNERABLE {label}; fixed in: {fix} {finding.note}".rstrip())
    print(f"{found} known vulnerabilities" if found else "no known vulnerabilities")
    return 1 if found else 0


def audit(requirements: Path, index_url: str, ignores: dict[str, str]) -> int:
    pins = read_pins(requirements)
    with httpx.Client(timeout=30, follow_redirects=True) as client:
        if release_json_served(client, index_url, *pins[0]):
            return run_pip_audit(requirements, ignores)
        print(f"{index_url} serves no per-release JSON (pip-audit needs it): using project JSON")
        return report_findings(audit_pins(client, index_url, pins), ignores)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, help="audit this file, not the lock")
    parser.add_argument("--index-url", default="https://pypi.org")
    parser.add_argument("--ignore-file", type=Path, default=IGNORE_FILE)
    args = parser.parse_args(argv)
    try:
        ignores = read_ignores(args.ignore_file)
        with tempfile.TemporaryDirectory() as tmp:
            requirements = args.requirements or Path(tmp) / "requirements.txt"
            if args.requirements is None:
                export_lock(requirements)
            return audit(requirements, args.index_url.rstrip("/"), ignores)
    except (AuditUnavailable, ValueError, subprocess.CalledProcessError) as exc:
        print(f"AUDIT FAILED: could not audit the dependencies: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
