"""Request limits, each a 429 problem+json with `Retry-After` when reached.

Two kinds:

- **The login and refresh limits** (`limited`, on those views): they stop password guessing,
  so they are exact and shared by every process: a sliding window counter in Redis per
  client address and per account. (A fixed window would let 10 guesses through at 12:00:59
  and 10 more at 12:01:00; the sliding counter weighs the previous window in.) Redis down:
  each process counts alone, so logins go on.
- **The general request budget** (`RATE_LIMIT_DEFAULT`, every other endpoint): a guard
  against runaway clients, counted without a Redis round trip for callers well under it.
  Counting every request in Redis cost a cached read half its CPU (one round trip each). So
  each process first counts a caller's requests itself, up to a tenth of the limit per
  window; only what a caller sends beyond that share goes to the shared counter, which
  refuses at the limit. A caller spread over W processes can therefore make up to
  (1 + W/10) × the limit before a 429: at most 1.4 × with 4 processes. An ordinary learner
  (a few requests a minute) never costs a round trip. Redis down: the shared count is
  skipped (requests are not refused for want of a counter).

Both count with `limits` (the library behind flask-limiter), used directly: flask-limiter's
own pass over every request, only to find the two views it guards, cost about a seventh of
what the app spends on a /healthz request.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from limits.storage import RedisClusterStorage, RedisStorage, Storage
from limits.strategies import SlidingWindowCounterRateLimiter
from redis import Redis, RedisError
from werkzeug.exceptions import HTTPException

from app.errors import TooManyRequests
from app.redis_connections import client_options, cluster_storage_uri, is_cluster

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

LOCAL_SHARE = 0.1
_BUDGET_NAMESPACE = "request-budget"


class SharedCounter:
    """Sliding window counts in Redis, shared by every process."""

    def __init__(self, redis: Redis) -> None:
        storage: Storage
        if is_cluster(redis):
            # `limits` makes its own cluster client (its keys carry a hash tag per limit).
            storage = RedisClusterStorage(cluster_storage_uri(redis), **client_options())
        else:
            # The app's own connection pool: its short timeouts, no second set of connections
            # (a Sentinel-managed pool follows the primary after a failover).
            storage = RedisStorage("redis://", connection_pool=redis.connection_pool)
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    def spend(self, limit: RateLimitItem, *identifiers: str) -> float | None:
        """Count one request; None if allowed, else seconds until one would be.
        Raises RedisError when Redis is unreachable."""
        if self._limiter.hit(limit, *identifiers):
            return None
        stats = self._limiter.get_window_stats(limit, *identifiers)
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

    def wait(self) -> float:
        return max(1.0, self.seconds - time.time() % self.seconds)


def client_address() -> str:
    return request.remote_addr or "unknown"


def caller_key() -> str:
    """The general budget counts per user when the access token is valid, else per address:
    a store's whole staff may share one address, and must not share one budget."""
    from app.auth.bearer import bearer_claims

    claims = bearer_claims()
    return f"user:{claims.user_id}" if claims is not None else f"ip:{client_address()}"


def request_json_field(name: str) -> str:
    """A field of the JSON body as a string, for limits keyed by account."""
    try:
        body = request.get_json(silent=True)
    except HTTPException:  # e.g. 413: the view will answer that; the limit key is moot
        return ""
    if isinstance(body, dict):
        return str(body.get(name, ""))[:255]
    return ""


def _refuse(wait: float) -> TooManyRequests:
    error = TooManyRequests("Too many requests; slow down.")
    error.headers["Retry-After"] = str(math.ceil(wait))
    return error


# --- the login and refresh limits ---------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One limit of a view: `limit()` reads the setting (e.g. "10/minute") per request, so a
    changed setting applies at once; `key()` says whose requests count together."""

    scope: str
    limit: Callable[[], str]
    key: Callable[[], str]


@functools.lru_cache(maxsize=64)
def _parsed(limit: str) -> RateLimitItem:
    return parse(limit)


class ViewLimits:
    """The counters behind `limited`: shared in Redis, per process while Redis is down."""

    def __init__(self, redis: Redis) -> None:
        self._shared = SharedCounter(redis)
        self._alone: dict[tuple[str, str], _LocalWindows] = {}

    def spend(self, rule: Rule) -> float | None:
        limit, key = _parsed(rule.limit()), rule.key()
        try:
            return self._shared.spend(limit, rule.scope, key)
        except RedisError:
            log.warning("rate limit %s: Redis unavailable, counted in this process", rule.scope)
        windows = self._alone.get((rule.scope, str(limit)))
        if windows is None:
            windows = _LocalWindows(limit.amount, limit.get_expiry())
            self._alone[(rule.scope, str(limit))] = windows
        return None if windows.hit(key) else windows.wait()


def limited(*rules: Rule) -> Callable[[F], F]:
    """Refuse the view's request with 429 once any of `rules` is reached (each request counts
    against every rule). Every endpoint documents 429 already (`app.openapi`)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counters: ViewLimits | None = current_app.extensions.get("view_limits")
            if counters is not None:
                for rule in rules:
                    wait = counters.spend(rule)
                    if wait is not None:
                        raise _refuse(wait)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


# --- the general request budget -----------------------------------------------------------


class RequestBudget:
    def __init__(self, limit: str, redis: Redis) -> None:
        self.limit: RateLimitItem = parse(limit)
        local_amount = max(1, math.floor(self.limit.amount * LOCAL_SHARE))
        self._local = _LocalWindows(local_amount, self.limit.get_expiry())
        self._shared = SharedCounter(redis)

    def spend(self, key: str) -> float | None:
        """Count one request of `key`; None if allowed, else seconds until it would be."""
        if self._local.hit(key):
            return None
        try:
            return self._shared.spend(self.limit, _BUDGET_NAMESPACE, key)
        except RedisError:
            log.warning("request budget: Redis unavailable, request not counted")
            return None


# Endpoints the budget never counts: health probes, images a store's staff share, store
# screens (a secret link, not a user; their polls are cheap by design), the dashboard's
# pages (each one's API calls inside it are counted), SCIM (an HR system's provisioning run,
# from one address, with a secret token of the organisation's), and the views with limits of
# their own.
EXEMPT_ENDPOINTS = frozenset({"healthz", "readyz", "metrics", "auth.Login", "auth.Refresh"})
EXEMPT_BLUEPRINTS = frozenset({"media", "screen_pages", "dashboard", "scim"})


@functools.lru_cache(maxsize=1024)
def _exempt(endpoint: str | None) -> bool:
    """Whether the budget leaves the endpoint alone (asked on every request; endpoints are few)."""
    blueprint = endpoint.rpartition(".")[0] if endpoint and "." in endpoint else None
    return endpoint in EXEMPT_ENDPOINTS or blueprint in EXEMPT_BLUEPRINTS


def init_app(app: Flask) -> None:
    """Count requests against the limits; an empty `RATE_LIMIT_DEFAULT` turns the general
    budget off (the login limits stay)."""
    app.extensions["view_limits"] = ViewLimits(app.extensions["redis"])
    if not app.config.get("RATE_LIMIT_DEFAULT"):
        return
    app.extensions["request_budget"] = RequestBudget(
        app.config["RATE_LIMIT_DEFAULT"], app.extensions["redis"]
    )

    @app.before_request
    def spend_request_budget() -> None:
        if _exempt(request.endpoint):
            return
        wait = app.extensions["request_budget"].spend(caller_key())
        if wait is not None:
            raise _refuse(wait)
