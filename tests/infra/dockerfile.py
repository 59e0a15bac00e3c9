"""Just enough of Dockerfile and .dockerignore semantics to rehearse the image on this host."""

import re
import shlex
from pathlib import Path


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def env_of(steps: list[tuple[str, str]]) -> dict[str, str]:
    """The ENV key=value pairs, in order."""
    env = {}
    for word, args in steps:
        if word == "ENV":
            env.update(part.split("=", 1) for part in shlex.split(args))
    return env


def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def ignored(relative: str, dockerignore: str) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also covers what is under it."""
    parents = Path(relative).parents
    candidates = [relative, *(str(p) for p in parents if str(p) != ".")]
    verdict = False
    for raw in dockerignore.splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.match(c) for c in candidates):
            verdict = not negate
    return verdict
