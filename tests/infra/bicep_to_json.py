"""Parse Bicep files with pycep (checkov's parser) and print them as one JSON object.

Run by the checkov tool venv's Python, not the app's: `python bicep_to_json.py FILE...`.
Exits 1 naming every file that does not parse.
"""

import json
import sys
from pathlib import Path

from pycep import BicepParser


def main(paths: list[str]) -> int:
    parser = BicepParser()
    parsed, errors = {}, []
    for path in paths:
        try:
            parsed[path] = parser.parse(file_path=Path(path))
        except Exception as exc:  # noqa: BLE001 - every parse failure is reported the same way
            errors.append(f"{path}: {type(exc).__name__}: {exc}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    json.dump(parsed, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
