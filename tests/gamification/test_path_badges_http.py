"""This week's path badges, earned through `POST /attempts/{id}/complete` with real paths."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.gamification.models import EarnedBadge
from tests.conftest import auth_headers
from tests.paths.conftest import finish, make_modules, schedule


def codes(body: dict[str, Any]) -> list[str]:
    return [badge["code"] for badge in body["new_badges"]]


def test_completing_the_weeks_mandatory_modules_earns_the_path_badges(
    client: Any,
    session: Any,
    org: Any,
    store: Any,
    warehouse: Any,
    learner: Any,
    colleague: Any,
    frozen_clock: Any,
    as_editor: Any,
    as_learner: Any,
) -> None:
    mandatory, second, optional, elsewhere = make_modules(session, org, 4)
    schedule(
        client,
        as_editor,
        [],
        modules=[
            {"module_id": mandatory.id, "mandatory": True},
            {"module_id": second.id, "mandatory": True},
            {"module_id": optional.id, "mandatory": False},
        ],
        # The store's path reaches its sub-department, the checkout (learner and colleague).
        audience={"department_ids": [store.id]},
    )
    schedule(client, as_editor, [elsewhere], audience={"department_ids": [warehouse.id]})
    as_colleague = auth_headers(session, colleague)

    assert "weekly_path" not in codes(finish(client, session, as_learner, mandatory))
    # A module completed but failed is not done for the path; passed, it is. The optional
    # one is not needed.
    assert "weekly_path" not in codes(finish(client, session, as_learner, second, correct=False))
    done = finish(client, session, as_learner, second)
    assert codes(done).count("weekly_path") == 1
    assert "department_weekly_path" not in codes(done)  # the colleague has not finished
    assert done["new_badges"][codes(done).index("weekly_path")]["title"]
    assert "weekly_path" not in codes(finish(client, session, as_learner, optional))  # once

    finish(client, session, as_colleague, second)
    last = finish(client, session, as_colleague, mandatory)
    assert "weekly_path" in codes(last)
    assert "department_weekly_path" in codes(last)

    held = session.execute(
        select(EarnedBadge.user_id, EarnedBadge.code, EarnedBadge.period).where(
            EarnedBadge.code.in_(["weekly_path", "department_weekly_path"])
        )
    ).all()
    assert sorted(held) == sorted(
        [
            (learner.id, "weekly_path", "2026-W48"),
            (colleague.id, "weekly_path", "2026-W48"),
            (learner.id, "department_weekly_path", "2026-W48"),
            (colleague.id, "department_weekly_path", "2026-W48"),
        ]
    )
    badges = client.get("/api/v1/me/badges", headers=as_learner).json
    assert {"weekly_path", "department_weekly_path"} <= {b["code"] for b in badges["earned"]}


def test_no_path_this_week_no_path_badge(
    client: Any, session: Any, org: Any, frozen_clock: Any, as_editor: Any, as_learner: Any
) -> None:
    [module] = make_modules(session, org, 1)
    schedule(client, as_editor, [module], week="2026-W49")  # next week's
    assert "weekly_path" not in codes(finish(client, session, as_learner, module))
