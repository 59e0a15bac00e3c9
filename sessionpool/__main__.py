"""`python -m sessionpool`: run the local session pool alone."""

import argparse
import logging
import os
import signal
import sys

import uvicorn
from pydantic import ValidationError

from sessionpool import linux
from sessionpool.app import create_pool_app
from sessionpool.pool import Pool
from sessionpool.settings import PoolSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sessionpool", description=__doc__)
    parser.add_argument("--host", help="address to listen on (SESSION_POOL_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (SESSION_POOL_PORT)")
    parser.add_argument(
        "--parent-pid", type=int, help="stop when this process (the one starting the pool) ends"
    )
    # Clients that insist on https (Semantic Kernel's SessionsPythonTool) need TLS.
    parser.add_argument("--ssl-certfile", help="serve https with this PEM certificate")
    parser.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        # The kernel's parent-death signal, set here rather than by the parent between fork
        # and exec (preexec_fn), which is unsafe in a process with threads.
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != args.parent_pid:
            return 0  # it ended before the signal was set
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

    scheme = "https" if args.ssl_certfile else "http"

    def announce(pool) -> None:
        endpoint = f"{scheme}://{settings.host}:{settings.port}"
        print(
            f"session pool listening on {endpoint} (isolation: {pool.sandbox.isolation})",
            flush=True,
        )

    app = create_pool_app(settings, on_ready=announce)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        # What still runs once the calls are ended (an upload, a download) gets this long.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    PoolServer(config, app.state.pool).run()
    return 0


class PoolServer(uvicorn.Server):
    """uvicorn, ending the sessions' running calls as soon as it is told to stop: each then
    answers that the pool stopped, instead of being cut when the grace runs out."""

    def __init__(self, config: uvicorn.Config, pool: Pool) -> None:
        super().__init__(config)
        self.pool = pool

    async def shutdown(self, sockets=None) -> None:
        self.pool.stop_calls()
        await super().shutdown(sockets)


if __name__ == "__main__":
    sys.exit(main())
