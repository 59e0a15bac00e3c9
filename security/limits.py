"""Per-user limits: a request rate, concurrent runs, and the size of what a client sends."""

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import HTTPException, status

_MAX_TRACKED_USERS = 10_000


class TooManyRequests(HTTPException):
    """429 with Retry-After in whole seconds."""

    def __init__(self, detail: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(status.HTTP_429_TOO_MANY_REQUESTS, detail, {"Retry-After": str(seconds)})


class PayloadTooLarge(HTTPException):
    """413 naming the limit, so the client knows what to cut."""

    def __init__(self, what: str, limit: int, unit: str = "bytes") -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE, f"{what} is larger than the limit of {limit} {unit}"
        )


class RateLimiter:
    """A token bucket per user: `per_minute` requests in a burst, refilled evenly over a minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, user: str) -> None:
        """Spend one request of `user`'s budget, or raise TooManyRequests."""
        now = self._clock()
        tokens, last = self._buckets.get(user, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._per_second)
        if tokens < 1.0:
            self._buckets[user] = (tokens, now)
            wait = (1.0 - tokens) / self._per_second
            raise TooManyRequests("rate limit reached: too many requests; retry later", wait)
        self._buckets[user] = (tokens - 1.0, now)
        if len(self._buckets) > _MAX_TRACKED_USERS:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        full_after = self._capacity / self._per_second
        self._buckets = {u: b for u, b in self._buckets.items() if now - b[1] < full_after}


class ConcurrencyLimiter:
    """At most `max_per_user` runs of one user at a time; one event loop, so no lock."""

    def __init__(self, max_per_user: int) -> None:
        self.max_per_user = max_per_user
        self._running: dict[str, int] = {}

    def running(self, user: str) -> int:
        return self._running.get(user, 0)

    @asynccontextmanager
    async def slot(self, user: str) -> AsyncIterator[Callable[[], None]]:
        """Hold one of `user`'s run slots for the block, or raise TooManyRequests. The block
        gets the slot's release, to free it before the block ends (once the answer is sent)."""
        if self.running(user) >= self.max_per_user:
            limit = self.max_per_user
            raise TooManyRequests(
                f"too many runs at once: at most {limit} per user; wait for one to finish", 1
            )
        self._running[user] = self.running(user) + 1
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                left = self._running[user] - 1
                if left:
                    self._running[user] = left
                else:
                    del self._running[user]

        try:
            yield release
        finally:
            release()


def check_message_length(message: str, max_chars: int) -> None:
    """Raise PayloadTooLarge for a chat message over MAX_MESSAGE_CHARS."""
    if len(message) > max_chars:
        raise PayloadTooLarge("the message", max_chars, "characters")
