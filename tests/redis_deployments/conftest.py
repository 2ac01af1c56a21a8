"""The app on a real Redis Cluster and on a real Sentinel-managed pair, started per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from app.rate_limits import RequestBudget, ViewLimits
from app.redis_connections import client_options, redis_from_url
from tests.redis_topologies import ClusterOfThree, SentinelPair


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterOfThree]:
    servers = ClusterOfThree(Path(tmp_path_factory.mktemp("cluster")))
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def sentinel_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelPair]:
    servers = SentinelPair(Path(tmp_path_factory.mktemp("sentinel")))
    servers.start()
    yield servers
    servers.stop()


def use_redis_url(app: Flask, monkeypatch: pytest.MonkeyPatch, url: str) -> redis.Redis:
    """Point the app at the Redis behind `url`, as `REDIS_URL` would at start-up: the boards,
    the login limits and the request budget. Returns the app's new client."""
    client = redis_from_url(url, **client_options())
    monkeypatch.setitem(app.extensions, "redis", client)
    monkeypatch.setitem(app.extensions, "view_limits", ViewLimits(client))
    if "request_budget" in app.extensions:
        budget = RequestBudget(app.config["RATE_LIMIT_DEFAULT"], client)
        monkeypatch.setitem(app.extensions, "request_budget", budget)
    return client
