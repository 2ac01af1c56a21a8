"""Delivery jobs for the outbox channels: a job is queued as soon as a message is written
(one at a time per channel), retries are scheduled for when they are due, and a minutely
sweep finds whatever a lost enqueue left behind.

A channel registers the function that sends a batch; the bookkeeping is shared.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app import clock, db
from app.outbox import service

log = logging.getLogger(__name__)

MAX_BATCHES_PER_JOB = 50

Send = Callable[[Session, Sequence[service.Claimed], datetime], list[service.Outcome]]


@dataclass(frozen=True)
class Channel:
    """How one channel delivers: `send` answers one outcome per message, in order."""

    name: str
    send: Send
    batch_size: Callable[[], int] = lambda: 100
    max_retry_seconds: int = 3600


CHANNELS: dict[str, Channel] = {}


def register(channel: Channel) -> None:
    """Make a channel known to the jobs (done at import of the channel's module)."""
    CHANNELS[channel.name] = channel


def _flag(channel: str) -> str:
    return f"nl:outbox:{channel}:queued"


# After a process has seen a channel's flag set, its commits of the next moment ask Redis
# nothing: the flag's round trip on every answer was about a fifth of what xAPI cost an
# answer. The job that clears the flag keeps looking until this long after clearing it (see
# `deliver_due`), so whatever those commits wrote is taken by that job.
KICK_QUIET_SECONDS = 0.25
_flag_seen_at: dict[str, float] = {}  # channel -> time.monotonic() when this process saw it set


def kick(channel: str, *, force: bool = False) -> None:
    """After a commit: queue a delivery job for `channel` unless one is queued already.

    The job clears the flag before it claims anything, so a message committed after that
    finds the flag gone and queues the next job. Redis down: the sweeper finds the rows.
    Within `KICK_QUIET_SECONDS` of this process seeing the flag set, nothing is asked
    (`force`: ask anyway).
    """
    seen_at = _flag_seen_at.get(channel)
    if not force and seen_at is not None and time.monotonic() - seen_at < KICK_QUIET_SECONDS:
        return
    from app.notifications.jobs import queue

    try:
        from app.extensions import get_queue_redis

        # The flag lives beside the queue: lost together, never one without the other.
        if get_queue_redis().set(_flag(channel), 1, nx=True, ex=300):
            queue().enqueue(deliver_due, channel)
        # Set, by this call or before it: the job that clears it looks again after the
        # quiet time. (Not on a failure above: then the next commit asks again.)
        _flag_seen_at[channel] = time.monotonic()
    except Exception:
        log.warning("could not queue %s delivery", channel, exc_info=True)


def forget_kicks() -> None:
    """Forget what this process saw of the flags (after Redis was emptied, in tests)."""
    _flag_seen_at.clear()


def deliver_batch(session: Session, channel: Channel, *, now: datetime) -> service.Report | None:
    """Claim, send and record one batch; None when nothing was due. Commits twice: the claim
    commits before anything is sent, so the sending happens outside any transaction."""
    messages = service.claim(session, channel=channel.name, now=now, limit=channel.batch_size())
    session.commit()
    if not messages:
        return None
    try:
        outcomes = channel.send(session, messages, now)
    except Exception as error:  # a sender bug: everything is retried later
        log.exception("%s sender failed", channel.name)
        outcomes = [service.Outcome("retry", f"sender error: {error}")] * len(messages)
    report = service.record(
        session,
        channel=channel.name,
        messages=messages,
        outcomes=outcomes,
        now=clock.now(),
        max_retry_seconds=channel.max_retry_seconds,
    )
    session.commit()
    return report


def deliver_due(channel_name: str, max_batches: int = MAX_BATCHES_PER_JOB) -> int:
    """Job: deliver `channel_name`'s due messages until none are left (or `max_batches`)."""
    from app.notifications.jobs import _app_context

    with _app_context():
        try:
            from app.extensions import get_queue_redis

            get_queue_redis().delete(_flag(channel_name))
        except Exception:
            log.warning("could not clear the %s flag", channel_name, exc_info=True)
        # A process that saw the flag before it was cleared here queues nothing for its
        # commits of the next `KICK_QUIET_SECONDS`: this job looks until then.
        look_until = time.monotonic() + KICK_QUIET_SECONDS
        _load_channels()
        channel = CHANNELS[channel_name]
        session = db.session()
        service.release_stale(session, channel=channel_name, now=clock.now())
        sent = 0
        retry_at: datetime | None = None
        for _ in range(max_batches):
            report = deliver_batch(session, channel, now=clock.now())
            if report is None:
                wait = look_until - time.monotonic()
                if wait <= 0:
                    break
                time.sleep(wait)
                continue
            sent += report.sent
            if report.next_retry_at and (retry_at is None or report.next_retry_at < retry_at):
                retry_at = report.next_retry_at
        else:
            kick(channel_name, force=True)  # stopped at the limit: a fresh job goes on
        if retry_at is not None:
            _schedule(channel_name, retry_at)
    return sent


def _schedule(channel_name: str, at: datetime) -> None:
    from app.notifications.jobs import queue

    try:
        queue().enqueue_at(at + timedelta(seconds=1), deliver_due, channel_name)
    except Exception:
        log.warning("could not schedule %s retries", channel_name, exc_info=True)


def sweep_channels() -> int:
    """Job (every minute): deliver what a lost enqueue or a dead worker left behind."""
    from app.notifications.jobs import _app_context

    sent = 0
    with _app_context():
        _load_channels()
        session = db.session()
        for name in sorted(CHANNELS):
            if service.has_due(session, channel=name, now=clock.now()):
                sent += deliver_due(name)
        session.commit()
    return sent


# The modules whose import registers a channel (a worker may not have imported them yet).
CHANNEL_MODULES: tuple[str, ...] = ("app.interop.delivery",)


def _load_channels() -> None:
    for name in CHANNEL_MODULES:
        importlib.import_module(name)
