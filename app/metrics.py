"""Prometheus metrics at `GET /metrics`: requests, learning, deliveries, queues, boards, caches
and the read replica.

Under gunicorn every worker writes its counters to files in `PROMETHEUS_MULTIPROC_DIR`
(`gunicorn.conf.py` sets it up) and a scrape adds them up: prometheus_client's multi-process
mode. What lives in the database or Redis (outbox depth, queue depth, replica lag) is read at
scrape time by the process that answers it.

`/metrics` answers only with `Authorization: Bearer <METRICS_TOKEN>`; without a token
configured it does not exist (404).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app import clock, db
from app.errors import NotFound

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "nanolearn_http_requests_total", "Requests answered", ["endpoint", "method", "status"]
)
LATENCY = Histogram(
    "nanolearn_http_request_duration_seconds",
    "Time to answer a request",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ANSWERS = Counter("nanolearn_answers_total", "Answers recorded", ["source"])
COMPLETIONS = Counter("nanolearn_completions_total", "Attempts completed", ["source"])
BOARD_REPAIRS = Counter(
    "nanolearn_board_repairs_total", "Organisations whose Redis boards were rebuilt on a read"
)
CACHE_LOOKUPS = Counter(
    "nanolearn_cache_lookups_total", "Per-process cache lookups", ["cache", "result"]
)
# The TVs on event streams (`app/screens/streams.py`): summed over the live processes, so a
# scrape shows how near the screens processes are to SCREEN_STREAMS_MAX each.
SCREEN_STREAMS = Gauge(
    "nanolearn_screen_streams_open",
    "Screen event streams open (TVs connected)",
    multiprocess_mode="livesum",
)
SCREEN_STREAMS_REFUSED = Counter(
    "nanolearn_screen_streams_refused_total",
    "Screen event streams refused: the process held SCREEN_STREAMS_MAX, or cannot hold any",
)


def count_after_commit(session: Any, counter: Counter, amount: int = 1, **labels: str) -> None:
    """Count `amount` once `session` commits (a rolled-back change counts nothing)."""
    if amount <= 0:
        return
    db.after_commit(session, lambda: counter.labels(**labels).inc(amount))


class _StoredStateCollector(Collector):
    """Gauges read at scrape time from the database, Redis and the replica."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._outboxes()
        yield from self._queues()
        yield from self._boards_marked()
        yield from self._replica()

    def _outboxes(self) -> Iterator[GaugeMetricFamily]:
        from app.notifications.models import Notification
        from app.outbox.models import OutboxMessage

        pending = GaugeMetricFamily(
            "nanolearn_outbox_pending", "Deliveries waiting to go out", labels=["channel"]
        )
        oldest = GaugeMetricFamily(
            "nanolearn_outbox_oldest_pending_seconds",
            "Age of the oldest delivery waiting to go out",
            labels=["channel"],
        )
        failed = GaugeMetricFamily(
            "nanolearn_outbox_failed", "Deliveries parked after a refusal", labels=["channel"]
        )
        now = clock.now()
        try:
            session = db.session()
            rows = session.execute(
                select(
                    OutboxMessage.channel,
                    OutboxMessage.status,
                    func.count(),
                    func.min(OutboxMessage.created_at),
                ).group_by(OutboxMessage.channel, OutboxMessage.status)
            ).all()
            push = session.execute(
                select(func.count(), func.min(Notification.created_at)).where(
                    Notification.status == "pending", Notification.deliver_after <= now
                )
            ).one()
            session.rollback()
        except SQLAlchemyError as error:
            log.warning("metrics: outbox not readable (%s)", error)
            return
        seen = {"push"}
        pending.add_metric(["push"], push[0])
        oldest.add_metric(["push"], _age(push[1], now))
        for channel, status, count, first in rows:
            seen.add(channel)
            if status in ("pending", "sending"):
                pending.add_metric([channel], count)
                oldest.add_metric([channel], _age(first, now))
            elif status == "failed":
                failed.add_metric([channel], count)
        yield pending
        yield oldest
        yield failed

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        from rq import Queue

        from app.extensions import get_queue_redis

        depth = GaugeMetricFamily("nanolearn_queue_jobs", "Jobs in the queue", labels=["queue"])
        try:
            for name in current_app.config["WORKER_QUEUES"].split(","):
                if name.strip():
                    queue = Queue(name.strip(), connection=get_queue_redis())
                    depth.add_metric([name.strip()], queue.count)
        except Exception as error:  # Redis down: the scrape still answers
            log.warning("metrics: queue not readable (%s)", error)
            return
        yield depth

    def _boards_marked(self) -> Iterator[GaugeMetricFamily]:
        from app.leaderboards.models import BoardRepair

        try:
            marked = db.session().scalar(select(func.count()).select_from(BoardRepair))
            db.session().rollback()
        except SQLAlchemyError:
            return
        yield GaugeMetricFamily(
            "nanolearn_boards_marked_for_repair",
            "Organisations whose Redis boards missed an update",
            value=marked or 0,
        )

    def _replica(self) -> Iterator[GaugeMetricFamily]:
        from app.replica import configured

        replica = configured()
        if replica is None:
            return
        lag = replica.lag_seconds()
        yield GaugeMetricFamily(
            "nanolearn_replica_lag_seconds",
            "How far the read replica is behind (NaN: unreachable)",
            value=float("nan") if lag is None else lag,
        )
        yield GaugeMetricFamily(
            "nanolearn_replica_in_use",
            "1 when reports read the replica, 0 when they fall back to the primary",
            value=1 if replica.usable() else 0,
        )


def _age(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (now - moment).total_seconds())


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def init_app(app: Flask) -> None:
    """Time and count every request; serve `/metrics` when `METRICS_TOKEN` is set."""

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count_request(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        rule = request.url_rule
        endpoint = rule.rule if rule is not None else "unmatched"
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        if started is not None:
            LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        token = current_app.config.get("METRICS_TOKEN")
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(offered.encode(), str(token).encode()):
            raise NotFound("Not found.")  # never say that it exists
        registry = _registry()
        body = generate_latest(registry)
        stored = CollectorRegistry()
        stored.register(_StoredStateCollector())
        body += generate_latest(stored)
        return Response(body, content_type=CONTENT_TYPE_LATEST)
