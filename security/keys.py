"""API keys: make a new one, and hash it for API_KEYS (`python -m security.keys NAME`)."""

import hashlib
import secrets
import sys


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest kept in API_KEYS; keys are random, so no slow hash is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """A random key with 256 bits of entropy, safe to put in a header."""
    return secrets.token_urlsafe(32)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or ":" in argv[0] or "," in argv[0]:
        print("usage: python -m security.keys NAME   (NAME without ':' or ',')", file=sys.stderr)
        return 2
    key = new_api_key()
    print(f"key for {argv[0]} (give it to the user; it is not stored): {key}")
    print(f"API_KEYS entry: {argv[0]}:{hash_api_key(key)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
