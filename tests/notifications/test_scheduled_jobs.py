"""Time-based jobs: per user's local time, out of quiet hours, safe to run twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.gamification import service as gamification
from app.insights import passes
from app.learning.models import Attempt
from app.notifications import jobs, providers
from app.notifications.models import Notification
from app.notifications.providers import Recipients
from app.notifications.push import FakePushSender
from tests import factories
from tests.conftest import auth_headers

WEDNESDAY_EVENING = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)  # 19:30 in Oslo


def learned(session: Any, user: Any, module: Any, *days_ago: int, now: datetime) -> None:
    for days in days_ago:
        moment = now - timedelta(days=days, hours=2)
        session.add(
            Attempt(
                org_id=user.org_id,
                user_id=user.id,
                module_id=module.id,
                module_version_id=module.current_version_id,
                module_version=1,
                questions_total=3,
                started_at=moment,
                completed_at=moment,
                score_correct=3,
                questions_answered=3,
                passed=True,  # passed: what paths count done
            )
        )
        # The completion also keeps the managers' rollup of first passes.
        passes.note_passed(
            session,
            org_id=user.org_id,
            user_id=user.id,
            department_id=user.department_id,
            module_id=module.id,
            passed_at=moment,
        )
        # A completion is also a learning day for the streak (as complete_attempt records it).
        gamification.record_learning_day(session, user=user, at=moment)
    session.flush()


def rows(session: Any, type: str) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.type == type)))


def test_streak_at_risk_in_the_evening_once_a_day(
    session: Any,
    org: Any,
    checkout: Any,
    learner: Any,
    colleague: Any,
    module: Any,
    push: FakePushSender,
    frozen_clock: Any,
) -> None:
    frozen_clock.set(WEDNESDAY_EVENING)
    learned(session, learner, module, 1, 2, 3, now=WEDNESDAY_EVENING)  # 3 days, not today
    learned(session, colleague, module, 0, 1, now=WEDNESDAY_EVENING)  # already learned today
    idle = factories.make_user(session, org, "idle", department=checkout)
    learned(session, idle, module, 3, now=WEDNESDAY_EVENING)  # streak already broken
    session.commit()

    assert jobs.send_streak_reminders() == 1
    assert jobs.send_streak_reminders() == 0  # the next run (15 min later) adds nothing

    [row] = rows(session, "streak_at_risk")
    assert row.user_id == learner.id
    assert row.body == "Du har 3 dager på rad. Ta en modul i dag!"
    assert row.expires_at == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # midnight in Oslo
    jobs.deliver_due()
    assert [m.collapse_key for m in push.sent] == []  # no device: inbox only
    assert rows(session, "streak_at_risk")[0].skip_reason == "no_device"


def test_streak_reminder_waits_for_the_local_evening_and_skips_quiet_evenings(
    session: Any, learner: Any, colleague: Any, module: Any, frozen_clock: Any
) -> None:
    afternoon = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 15:00 in Oslo
    frozen_clock.set(afternoon)
    learned(session, learner, module, 1, now=afternoon)
    learned(session, colleague, module, 1, now=afternoon)
    colleague.quiet_hours_start, colleague.quiet_hours_end = "18:00", "02:00"  # evening shift
    session.commit()

    assert jobs.send_streak_reminders() == 0  # not evening yet

    frozen_clock.set(WEDNESDAY_EVENING)
    jobs.send_streak_reminders()
    by_user = {r.user_id: r for r in rows(session, "streak_at_risk")}
    assert by_user[learner.id].status == "pending"
    # Quiet until 02:00, after the streak is lost: never pushed, only in the inbox.
    assert (by_user[colleague.id].status, by_user[colleague.id].skip_reason) == (
        "skipped",
        "quiet_hours",
    )


def test_streak_reminder_in_the_users_own_time_zone(
    session: Any, learner: Any, module: Any, frozen_clock: Any
) -> None:
    learner.timezone = "America/New_York"
    frozen_clock.set(WEDNESDAY_EVENING)  # 13:30 in New York
    learned(session, learner, module, 1, now=WEDNESDAY_EVENING)
    session.commit()
    assert jobs.send_streak_reminders() == 0

    frozen_clock.set(datetime(2026, 11, 26, 0, 30, tzinfo=UTC))  # 19:30 in New York
    assert jobs.send_streak_reminders() == 1


def test_weekly_path_start_goes_out_on_monday_morning_local_time(
    client: Any,
    session: Any,
    learner: Any,
    colleague: Any,
    push: FakePushSender,
    frozen_clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    colleague.timezone = "America/New_York"
    session.commit()
    path = Recipients(
        user_ids=[learner.id, colleague.id],
        payload={"path_id": "P48", "title": "Kjølekjeden"},
        key="P48",
    )
    monkeypatch.setattr(providers, "weekly_path_recipients", lambda session, now: [path])
    frozen_clock.set(datetime(2026, 11, 23, 5, 0, tzinfo=UTC))  # Monday 06:00 Oslo

    assert jobs.send_weekly_path_start() == 2
    assert jobs.send_weekly_path_start() == 0  # hourly runs add nothing

    by_user = {r.user_id: r for r in rows(session, "path_start")}
    assert by_user[learner.id].deliver_after == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert by_user[colleague.id].deliver_after == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert by_user[learner.id].title == "Ukens læringssti er klar"
    assert by_user[learner.id].data == {"path_id": "P48"}
    # Not in the inbox before it is out.
    headers = auth_headers(session, learner)
    assert client.get("/api/v1/me/notifications", headers=headers).json["items"] == []
    frozen_clock.set(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    assert len(client.get("/api/v1/me/notifications", headers=headers).json["items"]) == 1


def test_due_reminder_a_day_before_and_never_after_the_due_time(
    session: Any, learner: Any, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    frozen_clock.set(now)
    due = now + timedelta(hours=30)
    groups = [
        Recipients([learner.id], {"path_id": "P1", "title": "HMS"}, key="P1:due", due_at=due),
        Recipients([learner.id], {"path_id": "P2", "title": "Old"}, key="P2:due", due_at=now),
    ]
    monkeypatch.setattr(providers, "due_reminder_recipients", lambda session, now: groups)

    assert jobs.send_due_reminders() == 1
    assert jobs.send_due_reminders() == 0

    [row] = rows(session, "due_reminder")
    assert row.deliver_after == due - timedelta(hours=24)
    assert row.expires_at == due
    assert row.body == "«HMS» skal være fullført innen 26.11. 17:00."


def test_competition_end_once_per_competition(
    session: Any, learner: Any, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = Recipients([learner.id], {"competition_id": "C1", "title": "Julekampen"}, key="C1")
    monkeypatch.setattr(providers, "competition_end_recipients", lambda session, now: [group])

    assert jobs.send_competition_end() == 1
    assert jobs.send_competition_end() == 0
    [row] = rows(session, "competition_end")
    assert row.data == {"competition_id": "C1"}


def test_no_paths_or_competitions_no_pushes(session: Any, frozen_clock: Any) -> None:
    assert jobs.send_weekly_path_start() == 0
    assert jobs.send_due_reminders() == 0
    assert jobs.send_competition_end() == 0
