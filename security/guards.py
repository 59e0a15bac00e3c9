"""The security pieces assembled for an app: dependencies for routes, middleware for the app."""

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from security.auth import Authenticator
from security.body import BodySizeLimitMiddleware
from security.headers import SecurityHeadersMiddleware, add_cors
from security.limits import ConcurrencyLimiter, RateLimiter
from security.logs import install_log_redaction
from settings import Settings

RUN_SLOT_RELEASES = "run_slot_releases"  # in the request's state: its run slots' releases


@dataclass
class Guards:
    """Per-app state of the guards; its bound methods are FastAPI dependencies."""

    authenticate: Authenticator
    rate_limiter: RateLimiter
    runs: ConcurrencyLimiter

    async def user(self, request: Request) -> str:
        """Authenticate and count one request against the caller's rate; the user id."""
        user_id = await self.authenticate(request)
        if not getattr(request.state, "rate_counted", False):
            request.state.rate_counted = True
            self.rate_limiter.take(user_id)
        return user_id

    async def run_slot(self, request: Request) -> AsyncIterator[str]:
        """As `user`, and hold one of the caller's run slots until the answer (streamed or
        not) has been sent: `FreeRunSlotsWhenAnswered` frees it as the last byte goes out."""
        user_id = await self.user(request)
        async with self.runs.slot(user_id) as release:
            releases = getattr(request.state, RUN_SLOT_RELEASES, [])
            setattr(request.state, RUN_SLOT_RELEASES, [*releases, release])
            yield user_id


def build_guards(settings: Settings) -> Guards:
    """Raises ValueError naming the setting when AUTH_MODE asks for credentials not given."""
    return Guards(
        authenticate=Authenticator(settings),
        rate_limiter=RateLimiter(settings.rate_limit_per_minute),
        runs=ConcurrencyLimiter(settings.max_concurrent_runs_per_user),
    )


async def current_user(request: Request) -> str:
    """Dependency for apps that keep their Guards in `app.state.guards`."""
    return await request.app.state.guards.user(request)


async def run_slot(request: Request) -> AsyncIterator[str]:
    """Dependency for apps that keep their Guards in `app.state.guards`."""
    async with asynccontextmanager(request.app.state.guards.run_slot)(request) as user_id:
        yield user_id


class FreeRunSlotsWhenAnswered:
    """Frees the request's run slots as the answer's last body message goes out. A yield
    dependency's exit runs only after that send, so a client that had read the whole answer
    and asked again at once could still be refused (429) for a run that was over."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_freeing(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                for release in scope.get("state", {}).get(RUN_SLOT_RELEASES, ()):
                    release()
            await send(message)

        await self.app(scope, receive, send_freeing)


def install_security_middleware(
    app: FastAPI,
    settings: Settings,
    body_limit_overrides: Mapping[str, int] | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Body size limit, CORS and security headers on `app`, run slots freed as answers are
    sent; secrets kept out of the logs."""
    app.add_middleware(FreeRunSlotsWhenAnswered)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        overrides=body_limit_overrides,
    )
    add_cors(app, settings.cors_allow_origins)
    app.add_middleware(SecurityHeadersMiddleware)
    install_log_redaction(secrets)
