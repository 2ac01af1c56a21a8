"""The providers wired to paths and competitions: who hears about a path, a due date, an end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.competitions.models import Competition
from app.insights import passes
from app.learning.models import Attempt
from app.notifications import jobs, providers
from app.notifications.models import Notification
from app.paths import service as paths
from tests import factories

MONDAY_NIGHT = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # Oslo: Mon 01:30 W48; NY: Sun W47
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
LONG_AGO = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def by_user(session: Any, type: str) -> dict[str, Notification]:
    rows = session.scalars(select(Notification).where(Notification.type == type)).all()
    assert len({row.user_id for row in rows}) == len(rows)  # one each
    return {row.user_id: row for row in rows}


def path(session: Any, author: Any, modules: list[Any], **fields: Any) -> Any:
    steps = fields.pop("steps", None) or [{"module_id": m.id, "mandatory": True} for m in modules]
    return paths.create_path(
        session,
        user=author,
        title=fields.pop("title", "Uke 48"),
        modules=steps,
        now=MONDAY_NIGHT,
        **fields,
    )


def completed(session: Any, user: Any, module: Any, at: datetime) -> None:
    session.add(
        Attempt(
            org_id=user.org_id,
            user_id=user.id,
            module_id=module.id,
            module_version_id=module.current_version_id,
            module_version=1,
            questions_total=3,
            started_at=at,
            completed_at=at,
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
        passed_at=at,
    )


def test_weekly_paths_of_each_organisations_week_to_their_audience(
    session: Any,
    org: Any,
    other_org: Any,
    store: Any,
    checkout: Any,
    warehouse: Any,
    learner: Any,
    colleague: Any,
    manager: Any,
    editor: Any,
    other_org_admin: Any,
    module: Any,
    frozen_clock: Any,
) -> None:
    frozen_clock.set(MONDAY_NIGHT)
    other_org.timezone = "America/New_York"
    picker = factories.make_user(session, org, "picker", department=warehouse)
    newcomer = factories.make_user(session, org, "newcomer", department=warehouse)
    gone = factories.make_user(session, org, "gone", department=checkout)
    gone.active = False
    for user in (learner, colleague, manager, editor, picker, gone):
        user.created_at = LONG_AGO
    newcomer.created_at = MONDAY_NIGHT - timedelta(minutes=20)  # started this (Oslo) Monday
    abroad = factories.publish_module(session, other_org, factories.module_document())
    rival = factories.make_user(session, other_org, "rival")
    rival.created_at = LONG_AGO
    session.flush()

    # The store includes its checkout; the warehouse is not in it.
    shop = path(session, editor, [module], week="2026-W48", audience={"department_ids": [store.id]})
    leaders = path(session, editor, [module], week="2026-W48", audience={"roles": ["manager"]})
    path(session, editor, [module], week="2026-W49")  # next week: not yet
    first_week = path(session, editor, [module], onboarding_week=1, title="Velkommen")
    path(session, editor, [module], onboarding_week=2, title="Uke to")  # nobody's second week
    # New York is still in week 47.
    late = path(session, other_org_admin, [abroad], week="2026-W47", title="W47")
    path(session, other_org_admin, [abroad], week="2026-W48", title="W48")
    session.commit()

    groups = {g.key: g for g in providers.weekly_path_recipients(session, now=MONDAY_NIGHT)}
    assert set(groups) == {shop.id, leaders.id, first_week.id, late.id}
    assert set(groups[shop.id].user_ids) == {learner.id, colleague.id, manager.id}
    assert groups[leaders.id].user_ids == [manager.id]
    assert groups[first_week.id].user_ids == [newcomer.id]
    assert set(groups[late.id].user_ids) == {other_org_admin.id, rival.id}
    assert groups[shop.id].payload == {"path_id": shop.id, "title": "Uke 48"}

    assert jobs.send_weekly_path_start() == 7
    assert jobs.send_weekly_path_start() == 0  # hourly runs add nothing
    rows = session.scalars(select(Notification).where(Notification.type == "path_start")).all()
    assert sorted((r.user_id, r.data["path_id"]) for r in rows) == sorted(
        [
            (learner.id, shop.id),
            (colleague.id, shop.id),
            (manager.id, shop.id),
            (manager.id, leaders.id),
            (newcomer.id, first_week.id),
            (rival.id, late.id),
            (other_org_admin.id, late.id),
        ]
    )


def test_due_reminders_for_unfinished_mandatory_work_within_48_hours(
    session: Any,
    org: Any,
    warehouse: Any,
    learner: Any,
    colleague: Any,
    editor: Any,
    frozen_clock: Any,
) -> None:
    frozen_clock.set(SATURDAY)
    first, second, extra = (
        factories.publish_module(session, org, factories.module_document(title=f"M{n}"))
        for n in range(3)
    )
    newcomer = factories.make_user(session, org, "newcomer", department=warehouse)
    for user in (learner, colleague, editor):
        user.created_at = LONG_AGO
    newcomer.created_at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # week 48 is their first
    due = SATURDAY + timedelta(hours=30)
    steps = [
        {"module_id": first.id, "mandatory": True},
        {"module_id": second.id, "mandatory": True},
        {"module_id": extra.id, "mandatory": False},
    ]
    soon = path(session, editor, [], steps=steps, week="2026-W48", due_at=due, title="HMS")
    path(session, editor, [first], week="2026-W49", due_at=SATURDAY + timedelta(days=3))
    path(session, editor, [first], week="2026-W48", due_at=SATURDAY - timedelta(hours=1))
    welcome = path(session, editor, [first], onboarding_week=1, title="Velkommen")
    # The learner has done both mandatory modules (the optional one does not matter).
    completed(session, learner, first, SATURDAY - timedelta(days=1))
    completed(session, learner, second, SATURDAY - timedelta(days=1))
    completed(session, colleague, first, SATURDAY - timedelta(days=1))
    session.commit()

    groups = {g.key: g for g in providers.due_reminder_recipients(session, now=SATURDAY)}
    week_end = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # Monday 00:00 in Oslo
    assert set(groups) == {f"{soon.id}:2026-11-29", f"{welcome.id}:2026-11-29"}
    reminder = groups[f"{soon.id}:2026-11-29"]
    assert set(reminder.user_ids) == {colleague.id, newcomer.id, editor.id}
    assert reminder.due_at == due
    assert reminder.payload == {"path_id": soon.id, "title": "HMS", "timezone": "Europe/Oslo"}
    assert groups[f"{welcome.id}:2026-11-29"].user_ids == [newcomer.id]
    assert groups[f"{welcome.id}:2026-11-29"].due_at == week_end

    assert jobs.send_due_reminders() == 4
    assert jobs.send_due_reminders() == 0
    mine = session.scalars(
        select(Notification).where(
            Notification.type == "due_reminder", Notification.user_id == colleague.id
        )
    ).one()
    assert mine.data == {"path_id": soon.id}
    assert mine.expires_at == due
    assert mine.body == "«HMS» skal være fullført innen 29.11. 17:00."


def test_competition_end_to_the_active_members_of_its_departments(
    session: Any,
    org: Any,
    store: Any,
    checkout: Any,
    warehouse: Any,
    learner: Any,
    manager: Any,
    frozen_clock: Any,
) -> None:
    now = frozen_clock.current
    picker = factories.make_user(session, org, "picker", department=warehouse)
    gone = factories.make_user(session, org, "gone", department=warehouse)
    gone.active = False

    def competition(title: str, ends_at: datetime) -> Competition:
        row = Competition(
            org_id=org.id,
            title=title,
            starts_at=ends_at - timedelta(days=7),
            ends_at=ends_at,
            metric="total",
            department_ids=[store.id, warehouse.id],
        )
        session.add(row)
        return row

    ended = competition("Julekampen", now - timedelta(hours=2))
    competition("Gammel", now - timedelta(hours=30))
    competition("Pågår", now + timedelta(hours=2))
    session.commit()

    [group] = providers.competition_end_recipients(session, now=now)
    assert group.key == ended.id
    assert group.payload == {"competition_id": ended.id, "title": "Julekampen"}
    # The departments' active members, with everyone below them (as the standings count
    # them): the store's manager and the learner in its Kasse; not the one who left.
    assert set(group.user_ids) == {manager.id, learner.id, picker.id}

    assert jobs.send_competition_end() == 3
    assert jobs.send_competition_end() == 0
    rows = by_user(session, "competition_end")
    assert set(rows) == {manager.id, learner.id, picker.id}
    assert rows[picker.id].data == {"competition_id": ended.id}
