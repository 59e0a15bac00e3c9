"""`GET metadata`: the sessions' runtime, the packages of their environment, their kernel."""

import functools
import importlib.metadata
from datetime import UTC, datetime
from pathlib import Path

from sessionpool import runtime


@functools.cache
def describe() -> dict:
    """Read once from the built environment (runtime.ENVIRONMENT), never from the pool's own."""
    root = runtime.environment()
    site = runtime.site_packages(root)
    packages = {}
    for distribution in importlib.metadata.distributions(path=[str(site)]):
        name = distribution.name
        if name:
            packages[name.lower()] = distribution.version
    config = dict(
        line.split(" = ", 1)
        for line in (root / "pyvenv.cfg").read_text().splitlines()
        if " = " in line
    )
    return {
        "runtimes": [{"name": "python", "version": config.get("version_info", "")}],
        "preInstalledPackages": [{"name": n, "version": v} for n, v in sorted(packages.items())],
        "createdAt": _timestamp(root / "pyvenv.cfg"),
        "lastUpdatedAt": _timestamp(runtime.BUILT),
        "jupyterKernel": {
            "name": "IPython",
            "version": packages.get("ipython", ""),
            "projectUrl": "https://ipython.org",
            "description": "IPython's InteractiveShell, one per session, in the pool's sandbox",
        },
    }


def _timestamp(path: Path) -> str:
    moment = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
