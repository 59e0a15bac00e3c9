"""Fixtures for the offline checks of the Azure deployment files."""

import json
from pathlib import Path

import pytest

from tests.infra.helpers import BICEP_FILES, ROOT, run, tool


@pytest.fixture(scope="session")
def bicep() -> dict:
    """Every Bicep file parsed to JSON, keyed by path relative to the repository root."""
    paths = [p.relative_to(ROOT) for p in BICEP_FILES]
    done = run([tool("python"), Path(__file__).with_name("bicep_to_json.py"), *paths])
    assert done.returncode == 0, f"Bicep did not parse:\n{done.stderr}"
    return json.loads(done.stdout)
