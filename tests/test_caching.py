"""Process-local caches and their invalidation channel, on a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from app import caching
from app.caching import LocalCache, channel, invalidate
from tests.own_redis import OwnRedis


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


_counter = 0


@pytest.fixture
def cache(app, redis_client) -> Iterator[LocalCache[str]]:
    global _counter
    _counter += 1
    caching.start(redis_client)
    assert eventually(caching._bus.subscribed)
    made: LocalCache[str] = LocalCache(f"test.cache{_counter}", ttl=60)
    yield made
    caching._caches.pop(made.name)


def test_a_loaded_value_is_kept_and_served_without_loading_again(cache):
    loads: list[str] = []
    assert cache.fetch("k", lambda: loads.append("k") or "v1") == "v1"
    assert cache.fetch("k", lambda: loads.append("k") or "v2") == "v1"
    assert loads == ["k"]


def test_a_key_published_by_another_process_is_dropped_here(cache, redis_client):
    cache.fetch("a", lambda: "1")
    cache.fetch("b", lambda: "2")
    redis_client.publish(channel(redis_client), json.dumps({"cache": cache.name, "keys": ["a"]}))
    assert eventually(lambda: cache.get("a") is None)
    assert cache.get("b") == "2"


def test_a_star_drops_everything_and_garbage_is_ignored(cache, redis_client):
    cache.fetch("a", lambda: "1")
    redis_client.publish(channel(redis_client), b"not json")
    redis_client.publish(
        channel(redis_client), json.dumps({"cache": "no.such.cache", "keys": ["a"]})
    )
    redis_client.publish(channel(redis_client), json.dumps({"cache": cache.name, "keys": ["*"]}))
    assert eventually(lambda: len(cache) == 0)
    assert caching._bus.subscribed()  # the listener survived the garbage


def test_invalidate_drops_here_at_once_and_publishes_only_after_commit(
    cache, session, redis_client
):
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(channel(redis_client))
    try:
        cache.fetch("k", lambda: "old")
        invalidate(session, cache, "k")
        assert cache.get("k") is None
        assert listener.get_message(timeout=0.3) is None  # nothing before the commit

        session.commit()
        message = listener.get_message(timeout=2)
        assert message is not None
        assert json.loads(message["data"]) == {"cache": cache.name, "keys": ["k"]}

        invalidate(session, cache, "k")
        session.rollback()
        assert listener.get_message(timeout=0.3) is None  # a rolled-back change is never sent
    finally:
        listener.close()


def test_a_value_read_while_an_invalidation_came_by_is_not_stored(cache):
    def slow_read_of_the_old_row() -> str:
        cache.drop(["k"])  # the writer's message arrives while this request reads
        return "old"

    assert cache.fetch("k", slow_read_of_the_old_row) == "old"
    assert cache.fetch("k", lambda: "new") == "new"


def test_entries_expire_after_the_ttl(cache, monkeypatch):
    cache.fetch("k", lambda: "v")
    now = time.monotonic()
    monkeypatch.setattr(caching.time, "monotonic", lambda: now + cache.ttl + 1)
    assert cache.get("k") is None


def test_with_the_channel_lost_nothing_is_cached_until_it_is_back(tmp_path, monkeypatch):
    server = OwnRedis(tmp_path, persistent=False)
    server.start()
    bus = caching._InvalidationBus()
    bus.ping_every, bus.dead_after = 0.5, 2.0
    monkeypatch.setattr(caching, "_bus", bus)
    cache: LocalCache[str] = LocalCache("test.outage", ttl=60)
    try:
        bus.start(server.client)
        assert eventually(bus.subscribed)
        cache.fetch("k", lambda: "cached")
        assert cache.get("k") == "cached"

        server.stop()
        assert eventually(lambda: not bus.subscribed())
        assert cache.get("k") is None  # emptied: messages may be missed from now on
        loads: list[int] = []
        for _ in range(2):
            cache.fetch("k", lambda: loads.append(1) or "from the database")
        assert len(loads) == 2  # nothing is stored while nobody would tell us of a change

        server.start()
        assert eventually(bus.subscribed, seconds=15)
        cache.fetch("k", lambda: "again")
        assert cache.get("k") == "again"
    finally:
        bus.stop()
        caching._caches.pop("test.outage")
        if server.process is not None:
            server.stop()


def test_deployments_in_other_redis_databases_do_not_empty_our_caches(cache, redis_client):
    ours = redis_client.connection_pool.connection_kwargs
    # Another index of the 16 a Redis server has by default (CI may give us the last one).
    ours_db = ours.get("db", 0)
    other_db = ours_db + 1 if ours_db < 15 else ours_db - 1
    other = redis.Redis.from_url(
        f"unix://{ours['path']}?db={other_db}"
        if "path" in ours
        else f"redis://{ours['host']}:{ours['port']}/{other_db}"
    )
    assert caching.channel(other) != caching.channel(redis_client)
    cache.fetch("k", lambda: "ours")
    other.publish(caching.channel(other), json.dumps({"cache": cache.name, "keys": ["*"]}))
    redis_client.publish(caching.channel(redis_client), json.dumps({"cache": "x", "keys": []}))
    time.sleep(0.2)  # our own (ignored) message went by, so theirs would have too
    assert cache.get("k") == "ours"
