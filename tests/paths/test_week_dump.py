"""`GET /paths/current` and `GET /paths?week=` serialise the week without marshmallow; the
result must stay exactly what `LearnerWeekSchema` (the documented contract) gives."""

from __future__ import annotations

from app.paths import schemas, service
from tests.paths.conftest import finish, schedule


def test_the_week_is_dumped_as_the_schema_dumps_it(
    client, session, frozen_clock, modules, learner, as_admin, as_editor, as_learner
):
    schedule(client, as_editor, modules[:2], sequential=True, due_at="2026-11-27T15:00:00+01:00")
    schedule(
        client,
        as_editor,
        modules[1:],
        title="Uten frist",
        modules=[
            {"module_id": modules[1].id, "mandatory": False},
            {"module_id": modules[2].id, "mandatory": True},
        ],
    )
    schedule(client, as_editor, modules[:1], week=None, onboarding_week=1, title="Velkommen")
    required = client.post(
        "/api/v1/admin/requirements", json={"module_id": modules[2].id}, headers=as_admin
    )
    assert required.status_code == 201
    finish(client, session, as_learner, modules[0])

    week = service.learner_week(
        session, user=learner, week=None, locales=["en", "nb"], now=frozen_clock()
    )
    assert week["paths"][0]["id"] == "required"
    assert {p["due_at"] is None for p in week["paths"]} == {True, False}
    expected = schemas.LearnerWeekSchema().dump(week)
    assert schemas.dump_learner_week(week) == expected

    response = client.get("/api/v1/paths/current", headers={**as_learner, "Accept-Language": "en"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == expected
    other = client.get("/api/v1/paths?week=2026-W49", headers=as_learner)
    assert other.json == schemas.LearnerWeekSchema().dump(
        service.learner_week(
            session, user=learner, week="2026-W49", locales=["nb"], now=frozen_clock()
        )
    )
