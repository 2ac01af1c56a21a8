"""Reminders from the insights: requirements before they expire (at most two per period,
within allowed hours), managers told about overdue mandatory work, the weekly digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.notifications import jobs
from app.notifications.models import Notification
from tests.conftest import auth_headers
from tests.paths.conftest import finish


def notes(session, type):
    return list(
        session.scalars(
            select(Notification).where(Notification.type == type).order_by(Notification.id)
        )
    )


def test_requirement_reminders_at_most_two_per_period_in_allowed_hours(
    client, session, frozen_clock, org, store, learner, colleague, as_admin, module,
):  # fmt: skip
    client.post(
        "/api/v1/admin/requirements",
        json={"module_id": module.id, "validity_months": 12, "role": "learner"},
        headers=as_admin,
    )
    finish(client, session, auth_headers(session, learner), module)
    passed_at = frozen_clock.current
    # 20 days before it expires, at 23:30 in Oslo (quiet hours): the month-before reminder.
    frozen_clock.set(datetime(2027, 11, 5, 22, 30, tzinfo=UTC))
    assert jobs.send_requirement_reminders() >= 1
    mine = [n for n in notes(session, "requirement_reminder") if n.user_id == learner.id]
    assert len(mine) == 1
    assert mine[0].body == "«Kjølekjeden» må være bestått innen 19 dager."
    assert mine[0].deliver_after == datetime(2027, 11, 6, 6, 0, tzinfo=UTC)  # 07:00 local
    jobs.send_requirement_reminders()  # safe to run twice
    frozen_clock.advance(days=10)
    jobs.send_requirement_reminders()
    assert len([n for n in notes(session, "requirement_reminder") if n.user_id == learner.id]) == 1
    frozen_clock.set(passed_at + timedelta(days=365 - 6))  # the week-before reminder
    jobs.send_requirement_reminders()
    jobs.send_requirement_reminders()
    frozen_clock.advance(days=3)
    jobs.send_requirement_reminders()
    assert len([n for n in notes(session, "requirement_reminder") if n.user_id == learner.id]) == 2
    # The colleague never passed it and is long past due (30 days after it applied): no reminder.
    assert [n.user_id for n in notes(session, "requirement_reminder")].count(colleague.id) == 0


def test_missing_requirement_is_reminded_before_it_is_due(
    client, session, frozen_clock, org, store, learner, as_admin, module,
):  # fmt: skip
    client.post(
        "/api/v1/admin/requirements",
        json={"module_id": module.id, "due_within_days": 14},
        headers=as_admin,
    )
    jobs.send_requirement_reminders()
    assert [n.user_id for n in notes(session, "requirement_reminder")] == [learner.id]
    frozen_clock.advance(days=8)
    jobs.send_requirement_reminders()
    assert len(notes(session, "requirement_reminder")) == 2
    frozen_clock.advance(days=7)  # past due: nothing more
    jobs.send_requirement_reminders()
    assert len(notes(session, "requirement_reminder")) == 2


def test_manager_hears_of_overdue_work_and_gets_the_weekly_digest(
    client, session, frozen_clock, org, store, learner, colleague, manager, week_path,
    week_modules,
):  # fmt: skip
    finish(client, session, auth_headers(session, learner), week_modules[0])
    jobs.send_manager_notes()  # Wednesday 11:00 in Oslo, nothing overdue yet
    assert notes(session, "mandatory_overdue") == []
    digest = notes(session, "manager_digest")
    assert [n.user_id for n in digest] == [manager.id]
    assert digest[0].title == "Ukesoversikt: Butikk Sentrum"
    assert digest[0].body.startswith("2 av 3 har ikke tatt ukens obligatoriske opplæring")
    frozen_clock.advance(days=3)  # Saturday: Friday's due time has passed
    jobs.send_manager_notes()
    jobs.send_manager_notes()
    overdue = notes(session, "mandatory_overdue")
    assert [n.user_id for n in overdue] == [manager.id]
    assert overdue[0].body == "2 av 3 i Butikk Sentrum har obligatorisk opplæring på overtid."
    assert len(notes(session, "manager_digest")) == 1  # once a week
    assert [n.user_id for n in notes(session, "manager_digest")] == [manager.id]
