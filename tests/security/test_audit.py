"""The dependency audit against a PyPI-shaped index on 127.0.0.1: it fails loudly or passes."""

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.servers import ROOT, free_port

VULN = {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "fixed_in": ["2.0"], "details": "x"}
PROJECTS = {
    "safe": {"info": {"version": "1.0"}, "vulnerabilities": []},
    "vulnerable": {"info": {"version": "1.0"}, "vulnerabilities": [VULN]},
    "older": {"info": {"version": "3.0"}, "vulnerabilities": []},
}


@pytest.fixture(scope="module")
def index() -> Iterator[str]:
    """Serves /pypi/<name>/json like the index here: no per-release JSON."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            project = PROJECTS.get(parts[1]) if len(parts) == 3 else None
            self.send_response(200 if project else 404)
            self.end_headers()
            self.wfile.write(json.dumps(project or {"message": "Not Found"}).encode())

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def run_audit(tmp_path: Path, url: str, pins: list[str], ignores: str = "") -> tuple[int, str]:
    requirements, ignore_file = tmp_path / "requirements.txt", tmp_path / "ignore.txt"
    requirements.write_text("\n".join(f"{pin}\n    # via test" for pin in pins) + "\n")
    ignore_file.write_text(ignores)
    command = [sys.executable, "-m", "security.audit", "--requirements", str(requirements)]
    command += ["--index-url", url, "--ignore-file", str(ignore_file)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_clean_pins_pass(tmp_path: Path, index: str) -> None:
    code, out = run_audit(tmp_path, index, ["safe==1.0"])
    assert code == 0, out
    assert "no known vulnerabilities" in out


def test_a_known_vulnerability_fails_and_names_package_id_and_fix(tmp_path, index) -> None:
    code, out = run_audit(tmp_path, index, ["safe==1.0", "vulnerable==1.0 ; python_version >= '3'"])
    assert code == 1
    assert "VULNERABLE vulnerable 1.0: PYSEC-2099-1 CVE-2099-0001; fixed in: 2.0" in out


def test_an_ignore_entry_with_a_reason_accepts_it_by_id_or_alias(tmp_path, index) -> None:
    code, out = run_audit(tmp_path, index, ["vulnerable==1.0"], "CVE-2099-0001  not reachable\n")
    assert code == 0, out
    assert "ignored vulnerable 1.0" in out and "not reachable" in out


def test_an_ignore_entry_without_a_reason_is_refused(tmp_path, index) -> None:
    code, out = run_audit(tmp_path, index, ["vulnerable==1.0"], "PYSEC-2099-1\n")
    assert code == 2
    assert "needs a reason" in out


def test_pins_behind_the_latest_release_are_reported_as_partly_audited(tmp_path, index) -> None:
    code, out = run_audit(tmp_path, index, ["older==2.0"])
    assert code == 0
    assert "older 2.0 (latest 3.0)" in out


def test_a_package_the_index_does_not_know_fails_loudly(tmp_path, index) -> None:
    code, out = run_audit(tmp_path, index, ["safe==1.0", "unknown-package==1.0"])
    assert code == 2
    assert "AUDIT FAILED" in out


def test_an_unreachable_index_fails_loudly(tmp_path) -> None:
    code, out = run_audit(tmp_path, f"http://127.0.0.1:{free_port()}", ["safe==1.0"])
    assert code == 2
    assert "AUDIT FAILED" in out and "unreachable" in out
