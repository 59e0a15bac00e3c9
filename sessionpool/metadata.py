"""`GET metadata`: the sessions' runtime and preinstalled packages."""

import functools
import importlib.metadata
import platform
import sys


@functools.cache
def describe() -> dict:
    packages = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata.get("Name")
        if name:
            packages[name.lower()] = distribution.version
    return {
        "runtimes": [
            {
                "name": "python",
                "version": platform.python_version(),
                "implementation": sys.implementation.name,
            }
        ],
        "packages": [{"name": n, "version": v} for n, v in sorted(packages.items())],
    }
