"""Serve a FastAPI app built from the security pieces with uvicorn, on a free loopback port."""

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI

from pages import WEB_DIR
from security.guards import build_guards
from security.keys import hash_api_key
from security.signin import install_signin
from settings import Settings
from tests.support.scripted_llm import ScriptedLLM, arithmetic_brain
from tests.support.servers import free_port

ALICE_KEY = "alice-key-0123456789abcdefghijklmnopqrstuvwxyz"
BOB_KEY = "bob-key-0123456789abcdefghijklmnopqrstuvwxyz"


def make_settings(**overrides: object) -> Settings:
    """API keys for alice and bob unless overridden; no .env file is read."""
    fields = {
        "auth_mode": "api_key",
        "api_keys": {"alice": hash_api_key(ALICE_KEY), "bob": hash_api_key(BOB_KEY)},
        **overrides,
    }
    return Settings(_env_file=None, **fields)


@contextmanager
def serve(app: FastAPI, lifespan: str = "off") -> Iterator[str]:
    """Run `app` in a thread until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serve_keyed_service(
    session_pool, data_dir: Path, llm: ScriptedLLM | None = None
) -> Iterator[str]:
    """The whole service (scripted model, real pool) with API keys for alice and bob; the
    model answers with the arithmetic brain unless the caller brings its own `llm`."""
    from server import create_app

    with ExitStack() as stack:
        llm = llm or stack.enter_context(ScriptedLLM(arithmetic_brain))
        settings = Settings(
            _env_file=None,
            azure_openai_endpoint=llm.url,
            azure_openai_api_key="scripted-azure-key",
            azure_openai_deployment="scripted-deployment",
            pool_management_endpoint=session_pool.endpoint,
            session_pool_api_key=session_pool.api_key,
            data_dir=data_dir,
            auth_mode="api_key",
            api_keys=make_settings().api_keys,
        )
        with serve(create_app(settings), lifespan="on") as base:
            yield base


def whoami_app(settings: Settings) -> FastAPI:
    """The guards, the sign-in form and one route that says who is calling."""
    guards = build_guards(settings)
    app = FastAPI()
    app.state.guards = guards

    @app.get("/whoami")
    async def whoami(user: Annotated[str, Depends(guards.user)]) -> dict:
        return {"user": user}

    install_signin(app, WEB_DIR / "signin")
    return app
