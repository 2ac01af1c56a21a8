"""Kept figures: a department's summary, children and members list, computed once and reused
by every process for at most `INSIGHTS_CACHE_SECONDS`, so a completion shows within that
bound (`docs/insights.md`, "Freshness"). What may be served and when to refresh is the pure
rule `rules.cache_use`; the Redis keys and values are the adapter `cache.py`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis
from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.db import after_commit
from app.extensions import get_redis
from app.insights import cache, rules

log = logging.getLogger(__name__)


def cache_seconds() -> float:
    """`INSIGHTS_CACHE_SECONDS`: the oldest kept figures may be when shown (0: not kept)."""
    return float(current_app.config.get("INSIGHTS_CACHE_SECONDS") or 0)


def figures(
    session: Session,
    org_id: str,
    kind: str,
    department_id: str,
    week: str,
    now: datetime,
    compute: Callable[[Session], Any],
) -> cache.Kept:
    """`compute(session)`, or what it gave moments ago in any process: never older than
    `cache_seconds()` (measured on the app's clock from the `now` it was computed for).

    Shortly before that age (`rules.cache_use`) one process (the one that claims it in Redis)
    recomputes while every
    request, its own included, still gets the kept figures: in a thread of its own with its
    own database session (`refresh`), so a region's second of recomputing holds up no
    request. At the bound, or with nothing kept, the request computes, unless another
    process is computing the same figures: then it waits for those (`wait_for`). Without
    Redis, every request computes."""
    max_age = cache_seconds()
    moment = now.timestamp()
    if max_age <= 0:
        return computed(session, moment, compute)
    cache_key = cache.key(org_id, kind, department_id, week)
    try:
        client = get_redis()
        kept = cache.read(client, cache_key)
        if kept is not None:
            use = rules.cache_use(moment - kept.at, max_age, kept.took)
            if use == "use":
                return kept
            if use == "refresh":
                if cache.claim(client, cache_key, seconds=math.ceil(max_age)):
                    refresh(session, client, cache_key, moment, compute)
                return kept
        # Nothing usable kept. Whoever holds the claim is computing these figures already:
        # wait for them rather than have every process compute them at once.
        if not cache.claim(client, cache_key, seconds=math.ceil(max_age)):
            waited = wait_for(client, cache_key, moment, max_age)
            if waited is not None:
                return waited
    except redis.RedisError as error:
        log.warning("insights cache unavailable (%s); computing", error)
        return computed(session, moment, compute)
    kept = computed(session, moment, compute)
    keep(client, cache_key, kept)
    return kept


def wait_for(
    client: redis.Redis, cache_key: str, moment: float, max_age: float
) -> cache.Kept | None:
    """The figures another process is computing, once kept (polling every 20 ms: a region's
    figures take about 100 ms to compute, and every request for them waits meanwhile; at most
    `max_age` seconds); None if they did not come (its claim lapsed: it may have died)."""
    deadline = time.monotonic() + max_age
    while time.monotonic() < deadline:
        time.sleep(0.02)
        kept, claimed = cache.read_with_claim(client, cache_key)
        if (
            kept is not None
            and rules.cache_use(moment - kept.at, max_age, kept.took) != "recompute"
        ):
            return kept
        if not claimed:
            return None
    return None


def computed(session: Session, moment: float, compute: Callable[[Session], Any]) -> cache.Kept:
    started = time.perf_counter()
    data = compute(session)
    return cache.Kept.of(moment, data, took=time.perf_counter() - started)


def keep(client: redis.Redis, cache_key: str, kept: cache.Kept) -> None:
    try:
        cache.write(client, cache_key, kept, expire_seconds=math.ceil(cache_seconds()) + 2)
    except redis.RedisError as error:
        log.warning("keeping insights in Redis failed (%s)", error)


# Refreshes running in this process (tests wait for them: `wait_for_refreshes`).
_refreshes: list[threading.Thread] = []


def refresh(
    session: Session,
    client: redis.Redis,
    cache_key: str,
    moment: float,
    compute: Callable[[Session], Any],
) -> None:
    """Recompute kept figures and keep them, in a thread with its own session on the same
    engine. A session bound to one connection (a transaction of its own, as in tests) has no
    engine to open another: then the request recomputes before it answers."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        keep(client, cache_key, computed(session, moment, compute))
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        try:
            with app.app_context(), Session(bind=bind) as own:
                keep(client, cache_key, computed(own, moment, compute))
        except Exception:  # the claim lapses; the next request after it tries again
            log.exception("refreshing kept insights failed")

    thread = threading.Thread(target=run, name=f"insights-refresh {cache_key}", daemon=True)
    _refreshes[:] = [t for t in _refreshes if t.is_alive()] + [thread]
    thread.start()


def wait_for_refreshes(timeout: float = 30) -> None:
    """Until the refreshes started by this process have finished (for tests and shutdown)."""
    for thread in list(_refreshes):
        thread.join(timeout)


def forget(session: Session, org_id: str) -> None:
    """Once the session commits, drop every kept figure of the organisation (a person was
    erased: a kept members list would still show their name)."""

    def forget() -> None:
        try:
            cache.forget_org(get_redis(), org_id)
        except redis.RedisError as error:
            log.warning("forgetting kept insights failed (%s); they lapse by themselves", error)

    after_commit(session, forget)
