"""The security pieces assembled for an app: dependencies for routes, middleware for the app."""

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

from fastapi import FastAPI, Request

from security.auth import Authenticator
from security.body import BodySizeLimitMiddleware
from security.headers import SecurityHeadersMiddleware, add_cors
from security.limits import ConcurrencyLimiter, RateLimiter
from security.logs import install_log_redaction
from settings import Settings


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
        not) has been sent."""
        user_id = await self.user(request)
        async with self.runs.slot(user_id):
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
    guards = request.app.state.guards
    user_id = await guards.user(request)
    async with guards.runs.slot(user_id):
        yield user_id


def install_security_middleware(
    app: FastAPI,
    settings: Settings,
    body_limit_overrides: Mapping[str, int] | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Body size limit, CORS and security headers on `app`; secrets kept out of the logs."""
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        overrides=body_limit_overrides,
    )
    add_cors(app, settings.cors_allow_origins)
    app.add_middleware(SecurityHeadersMiddleware)
    install_log_redaction(secrets)
