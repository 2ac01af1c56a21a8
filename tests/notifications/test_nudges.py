"""POST /nudges: managers for their departments, admins for all, one per learner per day."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.notifications.models import Notification
from tests import factories
from tests.conftest import auth_headers


def test_manager_nudges_members_of_a_managed_department_and_below(
    client: Any,
    session: Any,
    learner: Any,
    colleague: Any,
    manager: Any,
    store: Any,
    as_manager: dict[str, str],
    frozen_clock: Any,
) -> None:
    answer = client.post(
        "/api/v1/nudges",
        json={"department_id": store.id, "message": "Husk HMS-modulen før fredag"},
        headers=as_manager,
    )

    assert answer.status_code == 202, answer.json
    assert sorted(answer.json["queued"]) == sorted([learner.id, colleague.id])  # not the sender
    assert answer.json["skipped"] == []
    rows = session.scalars(select(Notification)).all()
    assert {r.user_id for r in rows} == {learner.id, colleague.id}
    assert {r.body for r in rows} == {"Husk HMS-modulen før fredag"}


def test_one_nudge_per_learner_per_day_and_the_skipped_are_named(
    client: Any, learner: Any, colleague: Any, as_manager: dict[str, str], frozen_clock: Any
) -> None:
    first = client.post(
        "/api/v1/nudges", json={"user_ids": [learner.id], "message": "a"}, headers=as_manager
    )
    assert first.json["queued"] == [learner.id]

    second = client.post(
        "/api/v1/nudges",
        json={"user_ids": [learner.id, colleague.id], "message": "b"},
        headers=as_manager,
    )

    assert second.status_code == 202
    assert second.json["queued"] == [colleague.id]
    assert second.json["skipped"] == [{"user_id": learner.id, "reason": "already_nudged_today"}]

    frozen_clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))  # the next day in Oslo
    third = client.post(
        "/api/v1/nudges", json={"user_ids": [learner.id], "message": "c"}, headers=as_manager
    )
    assert third.json["queued"] == [learner.id]


def test_manager_cannot_nudge_outside_their_departments(
    client: Any,
    session: Any,
    org: Any,
    warehouse: Any,
    as_manager: dict[str, str],
    other_org_admin: Any,
) -> None:
    outsider = factories.make_user(session, org, "lagerarbeider", department=warehouse)

    by_user = client.post(
        "/api/v1/nudges", json={"user_ids": [outsider.id], "message": "x"}, headers=as_manager
    )
    by_department = client.post(
        "/api/v1/nudges", json={"department_id": warehouse.id, "message": "x"}, headers=as_manager
    )
    other_org = client.post(
        "/api/v1/nudges",
        json={"user_ids": [other_org_admin.id], "message": "x"},
        headers=as_manager,
    )

    assert by_user.status_code == 403
    assert by_department.status_code == 403
    assert other_org.status_code == 404
    assert session.scalars(select(Notification)).all() == []


def test_admin_nudges_any_department_and_learners_may_not(
    client: Any,
    session: Any,
    org: Any,
    warehouse: Any,
    as_admin: dict[str, str],
    as_learner: dict[str, str],
    frozen_clock: Any,
) -> None:
    worker = factories.make_user(session, org, "lagerarbeider", department=warehouse)

    by_admin = client.post(
        "/api/v1/nudges", json={"department_id": warehouse.id, "message": "x"}, headers=as_admin
    )
    by_learner = client.post(
        "/api/v1/nudges", json={"user_ids": [worker.id], "message": "x"}, headers=as_learner
    )

    assert by_admin.status_code == 202 and by_admin.json["queued"] == [worker.id]
    assert by_learner.status_code == 403


def test_nudge_needs_recipients_and_a_message(client: Any, as_manager: dict[str, str]) -> None:
    empty = client.post("/api/v1/nudges", json={"message": "x"}, headers=as_manager)
    no_message = client.post("/api/v1/nudges", json={"user_ids": ["x"]}, headers=as_manager)

    assert empty.status_code == 422 and "user_ids" in empty.json["errors"]
    assert no_message.status_code == 422 and "message" in no_message.json["errors"]


def test_nudge_late_in_the_evening_waits_for_the_morning(
    client: Any, session: Any, learner: Any, as_manager: dict[str, str], frozen_clock: Any
) -> None:
    frozen_clock.set(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))  # 23:00 in Oslo

    client.post(
        "/api/v1/nudges", json={"user_ids": [learner.id], "message": "x"}, headers=as_manager
    )

    row = session.scalars(select(Notification)).one()
    # No quiet hours of their own: the default 22:00-07:00 applies to the push ...
    assert row.deliver_after == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    # ... while someone still awake finds it in the app at once.
    inbox = client.get("/api/v1/me/notifications", headers=auth_headers(session, learner))
    assert [item["body"] for item in inbox.json["items"]] == ["x"]
