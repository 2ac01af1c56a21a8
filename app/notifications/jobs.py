"""RQ jobs: outbox delivery, the sweeper, scheduled reminders, and housekeeping (devices,
competitions, leaderboard archives, idempotency records).

Every job opens its own app context when the worker has none, commits its own work and is
safe to run twice (claims and dedupe keys make a second run a no-op).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from rq import Queue
from sqlalchemy.orm import Session

from app import clock, db
from app.competitions import service as competitions
from app.idempotency import service as idempotency
from app.leaderboards import service as leaderboards
from app.notifications import providers, rules, service
from app.notifications.push import PushSender, get_push_sender
from app.outbox import jobs as outbox_jobs

log = logging.getLogger(__name__)

QUEUE = "default"
MAX_BATCHES_PER_JOB = 20  # a job ends after 10 000 pushes; the next job or the sweeper goes on
MAX_PARALLEL_JOBS = 8
MAX_SCHEDULED_JOBS = 50
DEVICE_UNUSED_DAYS = 90


@contextmanager
def _app_context() -> Iterator[None]:
    if has_app_context():
        with nullcontext():
            yield
        return
    from app import create_app

    with create_app().app_context():
        yield


def queue(connection: Any = None) -> Queue:
    from app.extensions import get_queue_redis

    name = current_app.config.get("WORKER_QUEUES", QUEUE).split(",")[0]
    return Queue(name, connection=connection or get_queue_redis())


# --- delivery ---------------------------------------------------------------------------------


def deliver_batch(
    session: Session, *, sender: PushSender, now: datetime, batch_size: int = service.CHUNK
) -> service.DeliveryReport | None:
    """Claim, push and record one batch; None when nothing was due. Commits twice.

    The claim commits before anything is sent, so a second worker cannot take the same rows;
    the push happens outside any transaction.
    """
    claim = service.claim_due(session, now=now, limit=batch_size)
    session.commit()
    if not claim.claimed:
        return None
    try:
        results = sender.send([message for _, message in claim.messages])
    except Exception:  # a sender bug or FCM outage: every message is retried later
        log.exception("push sender failed")
        from app.notifications.push import SendResult

        results = [SendResult(m.token, "retry", error="SENDER_ERROR") for _, m in claim.messages]
    report = service.record_results(session, claim=claim, results=results, now=now)
    session.commit()
    return report


def deliver_due(max_batches: int = MAX_BATCHES_PER_JOB) -> int:
    """Job: deliver due notifications until none are left (or `max_batches`)."""
    delivered = 0
    with _app_context():
        session = db.session()
        sender = get_push_sender()
        for _ in range(max_batches):
            report = deliver_batch(session, sender=sender, now=clock.now())
            if report is None:
                break
            delivered += report.delivered
        else:
            # Stopped at the limit, not because nothing was due: a big fan-out (at most 8 jobs
            # of 10 000 are queued for it) goes on in a fresh job instead of waiting for the
            # minutely sweeper, 10 000 rows a minute.
            _enqueue_follow_up()
    return delivered


def _enqueue_follow_up() -> None:
    try:
        queue().enqueue(deliver_due)
    except Exception:  # Redis down: the sweeper finds the rows
        log.warning("could not enqueue the next delivery job", exc_info=True)


def enqueue_delivery(times: list[datetime]) -> None:
    """After a commit: a job now for what is due, and scheduled jobs for deferred pushes.

    Losing this enqueue (Redis down) loses nothing: the sweeper finds the rows.
    """
    if not times:
        return
    now = clock.now()
    due = sum(1 for t in times if t <= now)
    q = queue()
    for _ in range(min(-(-due // service.CHUNK), MAX_PARALLEL_JOBS)):
        q.enqueue(deliver_due)
    later = sorted({_next_minute(t) for t in times if t > now})
    for moment in later[:MAX_SCHEDULED_JOBS]:  # the rest waits for the minutely sweeper
        q.enqueue_at(moment, deliver_due)


def _next_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def sweep_outbox() -> int:
    """Job (every minute): expire stale pushes and deliver anything a lost enqueue left behind."""
    with _app_context():
        session = db.session()
        now = clock.now()
        expired = service.expire_stale(session, now=now)
        session.commit()
        if expired:
            log.info("expired %d undelivered pushes", expired)
        if service.has_due(session, now=now):
            return deliver_due()
    return 0


def prune_devices() -> int:
    """Job (daily): forget devices whose app has not registered for a long time."""
    with _app_context():
        session = db.session()
        days = int(current_app.config.get("DEVICE_UNUSED_DAYS") or DEVICE_UNUSED_DAYS)
        pruned = service.prune_devices(session, now=clock.now(), unused_days=days)
        session.commit()
        return pruned


# --- reminders ----------------------------------------------------------------------------------


def send_streak_reminders() -> int:
    """Job (every 15 min): streak-at-risk pushes for those whose evening it is."""
    with _app_context():
        session = db.session()
        result = service.notify_streaks_at_risk(session, now=clock.now())
        session.commit()
        return len(result.created)


def send_weekly_path_start() -> int:
    """Job (hourly): "this week's path is out", Monday morning in each user's time zone."""
    with _app_context():
        session = db.session()
        now = clock.now()
        created = 0
        for group in providers.weekly_path_recipients(session, now=now):
            created += len(
                service.notify_group(
                    session,
                    type="path_start",
                    user_ids=group.user_ids,
                    payload=group.payload,
                    key=group.key,
                    now=now,
                    not_before=lambda tz: rules.week_start_push_at(now, tz),
                ).created
            )
        session.commit()
        return created


def send_due_reminders() -> int:
    """Job (hourly): a reminder the day before mandatory work is due (never after it is due)."""
    with _app_context():
        session = db.session()
        now = clock.now()
        created = 0
        for group in providers.due_reminder_recipients(session, now=now):
            if group.due_at is None or group.due_at <= now:
                continue
            due_at = group.due_at
            created += len(
                service.notify_group(
                    session,
                    type="due_reminder",
                    user_ids=group.user_ids,
                    payload={"due": _short_time(due_at, group.payload), **group.payload},
                    key=group.key,
                    now=now,
                    not_before=due_at - timedelta(hours=24),
                    expires_at=due_at,
                ).created
            )
        session.commit()
        return created


def _short_time(due_at: datetime, payload: dict[str, Any]) -> str:
    tz = ZoneInfo(payload.get("timezone") or "Europe/Oslo")
    return due_at.astimezone(tz).strftime("%d.%m. %H:%M")


def send_competition_end() -> int:
    """Job (every 15 min): "the competition is over" to its departments' members."""
    with _app_context():
        session = db.session()
        now = clock.now()
        created = 0
        for group in providers.competition_end_recipients(session, now=now):
            created += len(
                service.notify_group(
                    session,
                    type="competition_end",
                    user_ids=group.user_ids,
                    payload=group.payload,
                    key=group.key,
                    now=now,
                ).created
            )
        session.commit()
        return created


DIGEST_WEEKDAY = 2  # Wednesday: mid-week, while there is still time to act
DIGEST_TIME = time(8, 0)


def send_requirement_reminders() -> int:
    """Job (hourly): competence requirements expiring or due in 30 and in 7 days (at most two
    reminders per requirement and period), pushed within each person's allowed hours."""
    with _app_context():
        session = db.session()
        now = clock.now()
        created = 0
        for group in providers.requirement_reminder_recipients(session, now=now):
            created += len(
                service.notify_group(
                    session,
                    type="requirement_reminder",
                    user_ids=group.user_ids,
                    payload=group.payload,
                    key=group.key,
                    now=now,
                    expires_at=group.due_at,
                ).created
            )
        session.commit()
        return created


def send_manager_notes() -> int:
    """Job (hourly): tell managers when people in their departments have mandatory work
    overdue (once a week per department), and the weekly digest from Wednesday 08:00 local
    time (once a week per department), each in the inbox and as a push."""
    with _app_context():
        session = db.session()
        now = clock.now()
        created = 0
        for note in providers.manager_notes(session, now=now):
            params = {
                "department": note.department,
                "members": note.members,
                "overdue": note.overdue,
                "missing": note.mandatory_missing,
                "expiring": note.expiring,
                "department_id": note.department_id,
            }
            if note.overdue:
                created += len(
                    service.notify_group(
                        session,
                        type="mandatory_overdue",
                        user_ids=[note.manager_id],
                        payload=params,
                        key=f"{note.department_id}:{note.week}",
                        now=now,
                    ).created
                )
            tz = ZoneInfo(note.timezone)
            digest_at = rules.week_start_push_at(now, tz, at=DIGEST_TIME) + timedelta(
                days=DIGEST_WEEKDAY
            )
            if now >= digest_at and note.members:
                created += len(
                    service.notify_group(
                        session,
                        type="manager_digest",
                        user_ids=[note.manager_id],
                        payload=params,
                        key=f"{note.department_id}:{note.week}",
                        now=now,
                    ).created
                )
        session.commit()
        return created


# --- housekeeping for other domains ------------------------------------------------------------


def finish_competitions() -> int:
    """Job (every 5 min): freeze the standings of competitions that have ended, give badges."""
    with _app_context():
        session = db.session()
        finished = competitions.finish_due_competitions(session, now=clock.now())
        session.commit()
        return len(finished)


def archive_leaderboards() -> int:
    """Job (hourly): archive finished leaderboard weeks and months (their Redis keys expire)."""
    with _app_context():
        session = db.session()
        archived = leaderboards.archive_finished_periods(session, now=clock.now())
        session.commit()
        return archived


def purge_idempotency_records() -> int:
    """Job (daily): forget stored responses to idempotent requests past their retention."""
    with _app_context():
        session = db.session()
        purged = idempotency.purge_expired(session, hours=current_app.config["IDEMPOTENCY_HOURS"])
        session.commit()
        return purged


# The recurring schedule (rq.cron); times are checked per user's time zone inside each job.
SCHEDULE: list[tuple[Any, dict[str, Any]]] = [
    (sweep_outbox, {"interval": 60}),
    (outbox_jobs.sweep_channels, {"interval": 60}),
    (send_streak_reminders, {"cron": "*/15 * * * *"}),
    (send_weekly_path_start, {"cron": "5 * * * *"}),
    (send_due_reminders, {"cron": "10 * * * *"}),
    (send_requirement_reminders, {"cron": "15 * * * *"}),
    (send_manager_notes, {"cron": "25 * * * *"}),
    (send_competition_end, {"cron": "*/15 * * * *"}),
    (prune_devices, {"cron": "30 3 * * *"}),
    (finish_competitions, {"cron": "*/5 * * * *"}),
    (archive_leaderboards, {"cron": "20 * * * *"}),
    (purge_idempotency_records, {"cron": "45 3 * * *"}),
]
