"""Process-local caches for what nearly every request reads and hardly anything changes (who a
login belongs to, which version of a module is published, a week's paths, display names),
kept honest across processes by invalidation messages over Redis pub/sub.

A database round trip costs a request more CPU than everything else it does, so the hot
reads keep their facts in memory. What makes a cached value safe to use:

- Entries are stored only while this process is subscribed to the invalidation channel, and
  every cache is emptied whenever the subscription is lost or re-established (messages may
  have been missed in between). With Redis down, every lookup goes to the database.
- A writer calls `invalidate(session, cache, *keys)`: the keys are dropped here at once and,
  once the transaction has committed, dropped again here and published to every process.
- A value loaded while any invalidation of the same cache arrived is not stored (`fetch`
  compares the cache's generation before and after loading), so a reader that read the old
  row cannot put it back after the writer's message went by.
- Every entry also expires after the cache's `ttl`: a bound on any mistake above.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import redis
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from app.db import after_commit, pending_after_commit
from app.metrics import CACHE_LOOKUPS

log = logging.getLogger(__name__)


def channel(client: redis.Redis) -> str:
    """The invalidation channel of the deployment using `client`'s database. Pub/sub ignores
    database numbers, so two deployments sharing a server (staging in db 1, production in
    db 0) would otherwise empty each other's caches."""
    pool = getattr(client, "connection_pool", None)  # a Redis Cluster has none, and only db 0
    db = pool.connection_kwargs.get("db", 0) if pool is not None else 0
    return f"nanolearn:{db}:cache-invalidation"


_ALL = "*"

V = TypeVar("V")

_caches: dict[str, LocalCache[Any]] = {}


class LocalCache(Generic[V]):
    """A dict of string keys to immutable values, private to this process."""

    def __init__(self, name: str, *, ttl: float, max_entries: int = 200_000) -> None:
        if name in _caches:
            raise ValueError(f"a cache named {name!r} exists already")
        self.name = name
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, V]] = {}
        self._generation = 0
        self._hits = CACHE_LOOKUPS.labels(name, "hit")
        self._misses = CACHE_LOOKUPS.labels(name, "miss")
        _caches[name] = self

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            self._misses.inc()
            return None
        expires, value = entry
        if expires < time.monotonic():
            self._entries.pop(key, None)
            self._misses.inc()
            return None
        self._hits.inc()
        return value

    def fetch(
        self, key: str, load: Callable[[], V | None], *, session: Session | None = None
    ) -> V | None:
        """The cached value, or `load()`: stored unless None, invalidated meanwhile, or read
        by a `session` that changed this cache's data and may still roll it back."""
        value = self.get(key)
        if value is not None:
            return value
        generation = self.generation
        value = load()
        if value is not None and (session is None or not invalidation_pending(session, self)):
            self.put(key, value, loaded_at=generation)
        return value

    def fetch_many(
        self,
        keys: Iterable[str],
        load_missing: Callable[[list[str]], Mapping[str, V]],
        *,
        session: Session | None = None,
    ) -> dict[str, V]:
        """The cached values of `keys`, and those missing from one `load_missing(missing)`,
        stored as `fetch` stores; keys neither cached nor loaded are left out."""
        found: dict[str, V] = {}
        missing: list[str] = []
        for key in keys:
            value = self.get(key)
            if value is None:
                missing.append(key)
            else:
                found[key] = value
        if missing:
            generation = self.generation
            loaded = load_missing(missing)
            store = session is None or not invalidation_pending(session, self)
            for key, value in loaded.items():
                if store:
                    self.put(key, value, loaded_at=generation)
                found[key] = value
        return found

    @property
    def generation(self) -> int:
        """Changes with every invalidation; take it before reading what `put` will store."""
        return self._generation

    def put(self, key: str, value: V, *, loaded_at: int) -> None:
        """Store `value` unless an invalidation came after `loaded_at` (a `generation`)."""
        if loaded_at != self._generation or not _bus.subscribed():
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare and cheap to refill; no LRU bookkeeping per hit
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def drop(self, keys: Iterable[str]) -> None:
        self._generation += 1
        for key in keys:
            if key == _ALL:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def invalidate(db_session: Session, cache: LocalCache[Any], *keys: str) -> None:
    """Drop `keys` (or everything, with no keys) from `cache` in every process, once
    `db_session` commits; here at once as well."""
    names = list(keys) or [_ALL]
    cache.drop(names)
    after_commit(db_session, _Publish(cache, names))


class _Publish:
    """The after-commit half of `invalidate` (an object, so `invalidation_pending` sees it)."""

    def __init__(self, cache: LocalCache[Any], names: list[str]) -> None:
        self.cache = cache
        self.names = names

    def __call__(self) -> None:
        # A request here may have re-read the old row before the commit: drop it again.
        _drop_everywhere(self.cache, self.names)


def invalidate_committed(cache: LocalCache[Any], *keys: str) -> None:
    """Drop `keys` (or everything) from `cache` in every process now: for a change already
    committed outside a request's session (e.g. written by an after-commit hook)."""
    _drop_everywhere(cache, list(keys) or [_ALL])


def _drop_everywhere(cache: LocalCache[Any], names: list[str]) -> None:
    cache.drop(names)
    client = current_app.extensions["redis"] if has_app_context() else _publisher
    if client is None:  # a script using services without the app: no caches to tell
        return
    if _bus.lost():
        # This process's subscription is down, so Redis most likely is: the others' caches
        # are off too. Publishing would hold every write up for the connect timeouts.
        log.warning("cache invalidation of %s not published: Redis unreachable", cache.name)
        return
    try:
        client.publish(channel(client), json.dumps({"cache": cache.name, "keys": names}))
    except redis.RedisError:
        # The other processes' subscriptions are most likely down too (and their caches
        # empty); if not, their entries expire after the cache's ttl.
        log.warning("cache invalidation of %s could not be published", cache.name)


def invalidation_pending(db_session: Session, *caches: LocalCache[Any]) -> bool:
    """Whether `db_session` changed, and has not yet committed, something cached in `caches`:
    what it reads of them now may be rolled back, so it must not be stored."""
    return any(
        isinstance(callback, _Publish) and callback.cache in caches
        for callback in pending_after_commit(db_session)
    )


def clear_all() -> None:
    for cache in list(_caches.values()):
        cache.clear()


_publisher: redis.Redis | None = None  # for changes committed outside an app context


def init_app(app: Flask) -> None:
    """Subscribe each serving process to the invalidation channel on its first request."""
    global _publisher
    client: redis.Redis = app.extensions["redis"]
    _publisher = client
    app.before_request(lambda: start(client))  # a no-op after the first request


def start(redis_client: redis.Redis) -> None:
    """Subscribe this process to the invalidation channel (once per process)."""
    _bus.start(redis_client)


def stop() -> None:
    """End this process's subscription (at exit, so it holds no connection open)."""
    _bus.stop()


class _InvalidationBus:
    """One daemon thread per process reading the invalidation channel."""

    ping_every = 5.0  # seconds of silence before asking the server whether it is still there
    dead_after = 15.0  # seconds without any message, pongs included, before reconnecting
    wait_at_start = 1.0  # how long the first request waits for the subscription

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started_in: int | None = None
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    def lost(self) -> bool:
        """Started in this process (a serving process) but not subscribed now."""
        return self._started_in == os.getpid() and not self._subscribed.is_set()

    def start(self, client: redis.Redis) -> None:
        # Called before every request: `after_fork` resets `_started_in` in a child, so a set
        # value is this process's own (no getpid, a system call, per request).
        if self._started_in is not None:
            return
        with self._lock:
            if self._started_in == os.getpid():
                return
            self._started_in = os.getpid()
            self._subscribed.clear()
            self._thread = threading.Thread(
                target=self._run, args=(client,), name="cache-invalidation", daemon=True
            )
            self._thread.start()
        # So the first requests already cache, and tests see the same thing every run.
        self._subscribed.wait(self.wait_at_start)

    def stop(self) -> None:
        """End the listener thread (tests that start a bus of their own)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._subscribed.clear()

    def after_fork(self) -> None:
        """A forked child has none of its parent's threads: start afresh on first use."""
        self._started_in = None
        self._subscribed.clear()
        self._lock = threading.Lock()
        clear_all()

    def _run(self, client: redis.Redis) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(channel(client))
                last_heard = last_ping = time.monotonic()
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    now = time.monotonic()
                    if message is not None:
                        last_heard = now
                        if message["type"] == "subscribe":
                            clear_all()
                            self._subscribed.set()
                            backoff = 0.5
                        elif message["type"] == "message":
                            _apply(message["data"])
                    elif now - last_heard > self.dead_after:
                        raise redis.ConnectionError("no answer to pings")
                    if now - last_ping > self.ping_every:
                        pubsub.ping()
                        last_ping = now
            except Exception as exc:  # any failure: forget everything, then retry
                if self._subscribed.is_set():
                    log.warning("cache invalidation channel lost (%s); caches off", exc)
                self._subscribed.clear()
                clear_all()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):  # closing a broken connection
                    pubsub.close()


def _apply(data: bytes | str) -> None:
    try:
        message = json.loads(data)
        cache = _caches.get(message["cache"])
        keys = [str(key) for key in message["keys"]]
    except (ValueError, KeyError, TypeError):
        log.warning("ignored a malformed cache invalidation message")
        return
    if cache is not None:
        cache.drop(keys)


_bus = _InvalidationBus()
os.register_at_fork(after_in_child=_bus.after_fork)
