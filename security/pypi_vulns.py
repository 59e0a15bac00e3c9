"""Known vulnerabilities from PyPI's project JSON, for indexes that serve no per-release JSON.

PyPI's `/pypi/<name>/json` lists the vulnerabilities (from the PyPA advisory database and
OSV) of the project's latest release. A pin at the latest release is therefore fully
audited; an older pin only for what is still open in the latest release, and is reported so.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx


class AuditUnavailable(Exception):
    """The vulnerability data could not be read, so nothing may be called safe."""


@dataclass
class Finding:
    package: str
    version: str
    id: str
    aliases: list[str]
    fixed_in: list[str]
    note: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    behind_latest: list[str] = field(default_factory=list)
    audited: int = 0


def release_json_served(client: httpx.Client, base_url: str, name: str, version: str) -> bool:
    """Whether the index answers `/pypi/<name>/<version>/json`, which pip-audit needs."""
    try:
        response = client.get(f"{base_url}/pypi/{name}/{version}/json")
    except httpx.TransportError as exc:
        raise AuditUnavailable(f"{base_url} is unreachable: {exc}") from exc
    return response.status_code == 200


def audit_pins(client: httpx.Client, base_url: str, pins: list[tuple[str, str]]) -> Report:
    """Look up every pin; raises AuditUnavailable if any cannot be looked up."""
    report = Report()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for name, version, project in pool.map(lambda p: _project(client, base_url, *p), pins):
            latest = project["info"]["version"]
            note = "" if latest == version else f"reported for the latest release {latest}"
            if note:
                report.behind_latest.append(f"{name} {version} (latest {latest})")
            for vuln in project.get("vulnerabilities") or []:
                if version not in (vuln.get("fixed_in") or []):
                    report.findings.append(_finding(name, version, vuln, note))
            report.audited += 1
    return report


def _project(client: httpx.Client, base_url: str, name: str, version: str) -> tuple:
    url = f"{base_url}/pypi/{name}/json"
    for attempt in range(3):
        try:
            response = client.get(url)
        except httpx.TransportError as exc:
            if attempt == 2:
                raise AuditUnavailable(f"{url} is unreachable: {exc}") from exc
            continue
        if response.status_code == 200:
            return name, version, response.json()
        if response.status_code < 500 or attempt == 2:
            raise AuditUnavailable(f"{url} answered HTTP {response.status_code}")
    raise AssertionError("unreachable")


def _finding(name: str, version: str, vuln: dict, note: str) -> Finding:
    return Finding(
        package=name,
        version=version,
        id=vuln.get("id", "?"),
        aliases=list(vuln.get("aliases") or []),
        fixed_in=list(vuln.get("fixed_in") or []),
        note=note,
    )
