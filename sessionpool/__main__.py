"""`python -m sessionpool`: run the local session pool alone."""

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from sessionpool.app import create_pool_app
from sessionpool.settings import PoolSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sessionpool", description=__doc__)
    parser.add_argument("--host", help="address to listen on (SESSION_POOL_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (SESSION_POOL_PORT)")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        settings = PoolSettings(**overrides)
    except ValidationError as error:
        names = ", ".join(
            f"SESSION_POOL_{'_'.join(map(str, e['loc'])).upper()}" for e in error.errors()
        )
        print(f"sessionpool: invalid or missing settings: {names}\n{error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    def announce(pool) -> None:
        endpoint = f"http://{settings.host}:{settings.port}"
        print(
            f"session pool listening on {endpoint} (isolation: {pool.sandbox.isolation})",
            flush=True,
        )

    app = create_pool_app(settings, on_ready=announce)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
