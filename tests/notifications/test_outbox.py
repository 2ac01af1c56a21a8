"""The outbox: written with the change, enqueued after commit, delivered by a real RQ worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rq import Queue, SimpleWorker
from sqlalchemy import select

from app import clock
from app.notifications import jobs, service
from app.notifications.models import Notification
from app.notifications.push import FakePushSender
from app.notifications.worker import build_cron
from tests.conftest import auth_headers
from tests.own_redis import dead_redis


def register(session: Any, user: Any, token: str, installation: str | None = None) -> None:
    service.register_device(
        session,
        user=user,
        installation_id=installation or f"install-{token}",
        token=token,
        platform="android",
        app_version="1.0",
        now=clock.now(),
    )


def nudge(session: Any, user: Any, message: str = "Husk ukens sti!", **kwargs: Any) -> Any:
    return service.notify(
        session,
        user_ids=[user.id],
        type="nudge",
        now=clock.now(),
        params={"sender": "Mona", "message": message},
        **kwargs,
    )


def test_rolled_back_change_writes_and_enqueues_nothing(
    session: Any, learner: Any, redis_client: Any, frozen_clock: Any
) -> None:
    session.commit()  # keep the fixtures; what follows is the change under test
    queue = Queue("default", connection=redis_client)

    nudge(session, learner)
    session.rollback()

    assert queue.count == 0
    assert session.scalars(select(Notification)).all() == []

    nudge(session, learner)
    session.commit()

    assert queue.count == 1
    assert queue.jobs[0].func_name == "app.notifications.jobs.deliver_due"
    assert len(session.scalars(select(Notification)).all()) == 1


def test_deferred_push_is_scheduled_for_the_end_of_quiet_hours(
    session: Any, learner: Any, redis_client: Any, frozen_clock: Any
) -> None:
    frozen_clock.set(datetime(2026, 11, 25, 22, 30, tzinfo=UTC))  # 23:30 in Oslo
    learner.quiet_hours_start, learner.quiet_hours_end = "22:00", "07:00"
    session.commit()
    queue = Queue("default", connection=redis_client)

    nudge(session, learner)
    session.commit()

    row = session.scalars(select(Notification)).one()
    assert row.deliver_after == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # 07:00 Oslo
    assert queue.count == 0
    assert queue.scheduled_job_registry.get_job_ids() != []


def test_real_rq_worker_delivers_a_nudge_through_the_queue(
    client: Any,
    session: Any,
    manager: Any,
    learner: Any,
    redis_client: Any,
    push: FakePushSender,
    frozen_clock: Any,
) -> None:
    register(session, learner, "learner-token")
    answer = client.post(
        "/api/v1/nudges",
        json={"user_ids": [learner.id], "message": "Ta kjølekjede-modulen i dag 🙂"},
        headers=auth_headers(session, manager),
    )
    assert answer.status_code == 202, answer.json
    queue = Queue("default", connection=redis_client)
    assert queue.count == 1
    assert push.sent == []  # nothing is pushed in the request

    worked = SimpleWorker([queue], connection=redis_client).work(burst=True)

    assert worked is True
    assert [m.token for m in push.sent] == ["learner-token"]
    sent = push.sent[0]
    assert sent.title == "Hilsen fra Manager"
    assert sent.body == "Ta kjølekjede-modulen i dag 🙂"
    assert sent.collapse_key == "nudge"
    assert sent.data["type"] == "nudge" and sent.data["deep_link"] == "nanolearn://inbox"
    row = session.scalars(select(Notification)).one()
    assert (row.status, row.devices_sent) == ("delivered", 1)


def test_worker_command_runs_the_queue_in_burst_mode(
    app: Any, session: Any, learner: Any, push: FakePushSender, frozen_clock: Any
) -> None:
    register(session, learner, "tok")
    nudge(session, learner)
    session.commit()

    result = app.test_cli_runner().invoke(args=["worker", "--burst", "--no-cron"])

    assert result.exit_code == 0, result.output
    assert [m.token for m in push.sent] == ["tok"]


def test_sweeper_delivers_what_a_lost_enqueue_left_behind(
    session: Any, learner: Any, redis_client: Any, push: FakePushSender, frozen_clock: Any
) -> None:
    register(session, learner, "tok")
    nudge(session, learner)
    session.commit()
    redis_client.flushdb()  # Redis lost the job

    assert jobs.sweep_outbox() == 1
    assert [m.token for m in push.sent] == ["tok"]
    assert jobs.sweep_outbox() == 0  # and never twice


def test_worker_down_loses_nothing_and_expired_pushes_stay_in_the_inbox(
    client: Any, session: Any, learner: Any, push: FakePushSender, frozen_clock: Any
) -> None:
    register(session, learner, "tok")
    nudge(session, learner)
    session.commit()

    frozen_clock.advance(hours=23)  # no worker ran for almost a day: still delivered
    assert jobs.deliver_due() == 1

    nudge(session, learner, "second")
    session.commit()
    frozen_clock.advance(days=2)  # too late to be worth a push
    assert jobs.sweep_outbox() == 0
    statuses = sorted(n.status for n in session.scalars(select(Notification)))
    assert statuses == ["delivered", "expired"]
    inbox = client.get("/api/v1/me/notifications", headers=auth_headers(session, learner))
    assert [item["body"] for item in inbox.json["items"]] == ["second", "Husk ukens sti!"]


def test_fcm_down_retries_with_backoff(
    client: Any, session: Any, learner: Any, push: FakePushSender, frozen_clock: Any
) -> None:
    register(session, learner, "tok")
    nudge(session, learner)
    session.commit()
    push.down = True

    jobs.deliver_due()
    row = session.scalars(select(Notification)).one()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.deliver_after == clock.now() + timedelta(seconds=30)
    inbox = client.get("/api/v1/me/notifications", headers=auth_headers(session, learner))
    assert len(inbox.json["items"]) == 1  # a retry delays the push, never the inbox

    push.down = False
    jobs.deliver_due()  # not yet due
    assert push.sent == []
    frozen_clock.advance(seconds=30)
    jobs.deliver_due()
    session.refresh(row)
    assert row.status == "delivered" and len(push.sent) == 1


def test_daily_cap_per_user_in_their_local_day(
    session: Any, org: Any, learner: Any, push: FakePushSender, frozen_clock: Any
) -> None:
    org.settings = {"notifications": {"daily_cap": 2}}
    register(session, learner, "tok")
    for n in range(4):
        nudge(session, learner, f"n{n}")
    session.commit()

    jobs.deliver_due()

    assert [m.body for m in push.sent] == ["n0", "n1"]
    skipped = session.scalars(select(Notification).where(Notification.status == "skipped")).all()
    assert {n.skip_reason for n in skipped} == {"daily_cap"}
    assert len(skipped) == 2

    frozen_clock.set(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))  # the next day
    nudge(session, learner, "tomorrow")
    session.commit()
    jobs.deliver_due()
    assert [m.body for m in push.sent][-1] == "tomorrow"


def test_opted_out_type_is_not_pushed_but_reaches_the_inbox(
    client: Any, session: Any, learner: Any, push: FakePushSender, frozen_clock: Any
) -> None:
    register(session, learner, "tok")
    headers = auth_headers(session, learner)
    changed = client.patch(
        "/api/v1/me/notification-preferences", json={"types": {"nudge": False}}, headers=headers
    )
    assert changed.status_code == 200, changed.json
    assert {t["type"]: t["enabled"] for t in changed.json["types"]}["nudge"] is False

    nudge(session, learner)
    session.commit()
    jobs.deliver_due()

    assert push.sent == []
    inbox = client.get("/api/v1/me/notifications", headers=headers)
    assert [item["type"] for item in inbox.json["items"]] == ["nudge"]


def test_quiet_hours_changed_after_writing_are_respected_at_delivery(
    session: Any, learner: Any, push: FakePushSender, frozen_clock: Any
) -> None:
    register(session, learner, "tok")
    nudge(session, learner)  # 11:00 in Oslo: due now
    learner.quiet_hours_start, learner.quiet_hours_end = "10:00", "12:00"  # a night shift's sleep
    session.commit()

    jobs.deliver_due()
    assert push.sent == []
    row = session.scalars(select(Notification)).one()
    assert row.deliver_after == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)

    frozen_clock.set(datetime(2026, 11, 25, 11, 0, tzinfo=UTC))
    jobs.deliver_due()
    assert len(push.sent) == 1


def test_logging_sender_records_deliveries_without_credentials(
    app: Any, session: Any, learner: Any, frozen_clock: Any, monkeypatch: Any
) -> None:
    monkeypatch.delitem(app.extensions, "push_sender", raising=False)
    register(session, learner, "tok")
    nudge(session, learner)
    session.commit()

    assert jobs.deliver_due() == 1
    assert type(app.extensions["push_sender"]).__name__ == "LoggingPushSender"
    row = session.scalars(select(Notification)).one()
    assert row.status == "delivered" and row.delivered_at == clock.now()


def test_no_device_means_inbox_only(
    session: Any, learner: Any, push: FakePushSender, frozen_clock: Any
) -> None:
    nudge(session, learner)
    session.commit()

    jobs.deliver_due()

    row = session.scalars(select(Notification)).one()
    assert (row.status, row.skip_reason) == ("skipped", "no_device")


def test_fan_out_in_bulk(session: Any, org: Any, push: FakePushSender, frozen_clock: Any) -> None:
    from tests import factories

    org.settings = {"notifications": {"daily_cap": 5}}
    users = [factories.make_user(session, org, f"u{n}") for n in range(1203)]
    for user in users:
        register(session, user, f"tok-{user.username}")
    result = service.notify(
        session,
        user_ids=[u.id for u in users],
        type="path_start",
        now=clock.now(),
        data={"path_id": "P1"},
        params={"title": "Uke 48"},
        dedupe_key="path_start:P1",
    )
    session.commit()
    assert len(result.created) == 1203

    assert jobs.deliver_due() == 1203
    assert len(push.sent) == 1203
    assert push.calls == 3  # batches of at most 500
    again = service.notify(
        session,
        user_ids=[u.id for u in users],
        type="path_start",
        now=clock.now(),
        dedupe_key="path_start:P1",
    )
    assert again.created == [] and set(again.skipped.values()) == {"duplicate"}


def test_recurring_jobs_are_registered_with_rq_cron(redis_client: Any) -> None:
    cron = build_cron(redis_client, "default")

    names = {job.func_name.rsplit(".", 1)[1] for job in cron.get_jobs()}
    assert names == {
        "sweep_outbox",
        "sweep_channels",
        "send_streak_reminders",
        "send_weekly_path_start",
        "send_due_reminders",
        "send_requirement_reminders",
        "send_manager_notes",
        "send_competition_end",
        "prune_devices",
        "finish_competitions",
        "archive_leaderboards",
        "purge_idempotency_records",
    }


def test_redis_down_at_commit_loses_nothing(
    app: Any,
    client: Any,
    session: Any,
    manager: Any,
    learner: Any,
    push: FakePushSender,
    frozen_clock: Any,
    monkeypatch: Any,
) -> None:

    register(session, learner, "tok")
    headers = auth_headers(session, manager)
    alive = app.extensions["redis"]
    dead = dead_redis()
    monkeypatch.setitem(app.extensions, "redis", dead)  # a real outage: nothing listens there

    answer = client.post(
        "/api/v1/nudges", json={"user_ids": [learner.id], "message": "x"}, headers=headers
    )
    assert answer.status_code == 202  # the enqueue failed after the commit; the change stands

    monkeypatch.setitem(app.extensions, "redis", alive)  # Redis is back, the job was lost
    assert jobs.sweep_outbox() == 1
    assert [m.token for m in push.sent] == ["tok"]


def test_a_job_stopped_at_its_batch_limit_queues_the_next_one(
    session: Any, org: Any, push: FakePushSender, redis_client: Any, frozen_clock: Any
) -> None:
    from tests import factories

    users = [factories.make_user(session, org, f"u{n}") for n in range(3)]
    for user in users:
        register(session, user, f"tok-{user.username}")
    service.notify(
        session,
        user_ids=[u.id for u in users],
        type="path_start",
        now=clock.now(),
        params={"title": "Uke 48"},
        dedupe_key="path_start:P1",
    )
    session.commit()
    queue = Queue("default", connection=redis_client)
    queue.empty()

    assert jobs.deliver_due(max_batches=1) == 3  # one batch: the limit, not an empty outbox

    assert [job.func_name for job in queue.jobs] == ["app.notifications.jobs.deliver_due"]
    assert jobs.deliver_due() == 0  # nothing left: it stops without queueing another
    assert queue.count == 1
