"""The general per-caller request limit (`RATE_LIMIT_DEFAULT`): a guard against runaway
clients, counted without a Redis round trip for callers well under it.

Counting every request in Redis cost a cached read half its CPU (one round trip each). So
each process first counts a caller's requests itself, up to a tenth of the limit per window;
only what a caller sends beyond that share goes to the shared counter in Redis, which
refuses at the limit. A caller spread over W processes can therefore make up to
(1 + W/10) × the limit before a 429: at most 1.4 × with 4 processes. An ordinary learner
(a few requests a minute) never costs a round trip; a runaway client is counted in Redis
like before. The login and refresh limits, which stop password guessing, are exact and
shared (flask-limiter, `app.auth.routes`).

The shared counter is a `limits` sliding window counter, as flask-limiter's; the local share
is a plain count per fixed window. Redis down: the shared counter is skipped (requests are
not refused for want of a counter).
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, request
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from redis import Redis, RedisError

from app.errors import TooManyRequests
from app.extensions import caller_key

log = logging.getLogger(__name__)

LOCAL_SHARE = 0.1
_NAMESPACE = "request-budget"


class RequestBudget:
    def __init__(self, limit: str, redis: Redis) -> None:
        self.limit: RateLimitItem = parse(limit)
        local_amount = max(1, math.floor(self.limit.amount * LOCAL_SHARE))
        self._local = _LocalWindows(local_amount, self.limit.get_expiry())
        # The app's own connection pool: its short timeouts, no second set of connections.
        storage = RedisStorage("redis://", connection_pool=redis.connection_pool)
        self._shared = SlidingWindowCounterRateLimiter(storage)

    def spend(self, key: str) -> float | None:
        """Count one request of `key`; None if allowed, else seconds until it would be."""
        if self._local.hit(key):
            return None
        try:
            if self._shared.hit(self.limit, _NAMESPACE, key):
                return None
            stats = self._shared.get_window_stats(self.limit, _NAMESPACE, key)
        except RedisError:
            log.warning("request budget: Redis unavailable, request not counted")
            return None
        return max(1.0, stats.reset_time - time.time())


class _LocalWindows:
    """Requests per key in fixed windows, in this process. (`limits`' MemoryStorage starts a
    timer thread every few milliseconds to expire its keys: a thread per few requests.) A
    fixed window is precise enough for the share before the shared, sliding count."""

    def __init__(self, amount: int, seconds: int) -> None:
        self.amount = amount
        self.seconds = seconds
        self._window = -1
        self._counts: dict[str, int] = {}

    def hit(self, key: str) -> bool:
        window = int(time.time()) // self.seconds
        if window != self._window:  # keeps memory to the callers of one window
            self._window, self._counts = window, {}
        count = self._counts.get(key, 0)
        if count >= self.amount:
            return False
        self._counts[key] = count + 1
        return True


# Endpoints the budget never counts: health probes, and images a store's staff share.
EXEMPT_ENDPOINTS = frozenset({"healthz", "readyz"})
EXEMPT_BLUEPRINTS = frozenset({"media"})


def init_app(app: Flask) -> None:
    if not app.config.get("RATELIMIT_ENABLED", True) or not app.config.get("RATE_LIMIT_DEFAULT"):
        return
    app.extensions["request_budget"] = RequestBudget(
        app.config["RATE_LIMIT_DEFAULT"], app.extensions["redis"]
    )

    @app.before_request
    def spend_request_budget() -> None:
        if request.endpoint in EXEMPT_ENDPOINTS or request.blueprint in EXEMPT_BLUEPRINTS:
            return
        wait = app.extensions["request_budget"].spend(caller_key())
        if wait is not None:
            error = TooManyRequests("Too many requests; slow down.")
            error.headers["Retry-After"] = str(math.ceil(wait))
            raise error
