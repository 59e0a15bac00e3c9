"""The security pieces assembled for an app: dependencies for routes, middleware for the app."""

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from security.auth import Authenticator
from security.body import BodySizeLimitMiddleware
from security.headers import SecurityHeadersMiddleware, add_cors
from security.limits import ConcurrencyLimiter, RateLimiter
from security.logs import install_log_redaction
from security.settings import SecuritySettings


@dataclass
class Guards:
    """`user` authenticates and rate-limits; `run_slot` also holds a run slot until the answer
    (streamed or not) has been sent. Both return the user id."""

    authenticate: Authenticator
    rate_limiter: RateLimiter
    runs: ConcurrencyLimiter

    def __post_init__(self) -> None:
        async def user(request: Request) -> str:
            user_id = await self.authenticate(request)
            if not getattr(request.state, "rate_counted", False):
                request.state.rate_counted = True
                self.rate_limiter.take(user_id)
            return user_id

        async def run_slot(user_id: Annotated[str, Depends(user)]) -> AsyncIterator[str]:
            async with self.runs.slot(user_id):
                yield user_id

        self.user = user
        self.run_slot = run_slot


def build_guards(settings: SecuritySettings) -> Guards:
    """Raises ValueError naming the setting when AUTH_MODE asks for credentials not given."""
    return Guards(
        authenticate=Authenticator(settings),
        rate_limiter=RateLimiter(settings.rate_limit_per_minute),
        runs=ConcurrencyLimiter(settings.max_concurrent_runs_per_user),
    )


def install_security_middleware(
    app: FastAPI,
    settings: SecuritySettings,
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
