"""Paths and tool runners for the offline checks of the Azure deployment files."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TOOLS = ROOT / ".tools" / "checkov" / "bin"
BICEP_FILES = sorted([INFRA / "main.bicep", *(INFRA / "modules").glob("*.bicep")])


def tool(name: str) -> Path:
    """A tool from the pinned checkov venv; `make tools` creates it (`make test` does first)."""
    path = TOOLS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make tools`")
    return path


def run(
    args: list, input_text: str | None = None, timeout: int = 180
) -> subprocess.CompletedProcess:
    """Run a tool from the repository root, capturing its output for the failure message."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=ROOT,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
