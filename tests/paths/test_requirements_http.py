"""Competence requirements: admin management, `GET /me/requirements`, the required path."""

from __future__ import annotations

from datetime import UTC, datetime

from tests import factories
from tests.conftest import auth_headers
from tests.paths.conftest import finish


def require(client, headers, module, **body):
    response = client.post(
        "/api/v1/admin/requirements", json={"module_id": module.id, **body}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json


def my_requirements(client, headers):
    response = client.get("/api/v1/me/requirements", headers=headers)
    assert response.status_code == 200, response.json
    return {item["module"]["id"]: item for item in response.json["items"]}


def test_admin_manages_requirements(
    client, session, frozen_clock, org, store, modules, as_admin, as_editor, as_other_org_admin
):
    created = require(
        client, as_admin, modules[0], role="learner", validity_months=12, due_within_days=14
    )
    assert created["role"] == "learner" and created["validity_months"] == 12
    by_department = require(client, as_admin, modules[1], department_id=store.id)
    listed = client.get("/api/v1/admin/requirements", headers=as_admin)
    assert [r["id"] for r in listed.json["items"]] == [created["id"], by_department["id"]]
    assert listed.json["next_cursor"] is None
    assert client.get("/api/v1/admin/requirements", headers=as_editor).status_code == 403
    assert client.get("/api/v1/admin/requirements").status_code == 401
    assert client.get("/api/v1/me/requirements").status_code == 401
    assert client.post("/api/v1/admin/requirements", json={}, headers=as_editor).status_code == 403
    theirs = client.get("/api/v1/admin/requirements", headers=as_other_org_admin).json
    assert theirs["items"] == []
    foreign = client.delete(
        f"/api/v1/admin/requirements/{created['id']}", headers=as_other_org_admin
    )
    assert foreign.status_code == 404
    assert (
        client.delete(f"/api/v1/admin/requirements/{created['id']}", headers=as_admin).status_code
        == 204
    )
    assert (
        client.delete(f"/api/v1/admin/requirements/{created['id']}", headers=as_admin).status_code
        == 404
    )


def test_requirement_validation(client, session, frozen_clock, other_org, modules, as_admin):
    foreign_module = factories.publish_module(session, other_org, factories.module_document())
    foreign_department = factories.make_department(session, other_org, "Fremmed")
    response = client.post(
        "/api/v1/admin/requirements",
        json={
            "module_id": foreign_module.id,
            "department_id": foreign_department.id,
            "role": "king",
        },
        headers=as_admin,
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"module_id", "department_id", "role"}
    bad_validity = client.post(
        "/api/v1/admin/requirements",
        json={"module_id": modules[0].id, "validity_months": 0},
        headers=as_admin,
    )
    assert bad_validity.status_code == 422 and "validity_months" in bad_validity.json["errors"]
    assert client.post("/api/v1/admin/requirements", json={}, headers=as_admin).status_code == 422


def test_statuses_missing_valid_expiring_expired(
    client, session, frozen_clock, org, modules, learner, as_admin, as_learner
):
    learner.created_at = datetime(2026, 1, 1, tzinfo=UTC)
    session.flush()
    yearly = require(client, as_admin, modules[0], validity_months=12)
    forever = require(client, as_admin, modules[1])
    assert yearly and forever
    items = my_requirements(client, as_learner)
    assert items[modules[0].id]["status"] == "missing"
    assert items[modules[0].id]["valid_until"] is None
    # Due 30 days after the requirement applied (it is newer than the learner).
    assert items[modules[0].id]["due_at"] == "2026-12-25T10:00:00+00:00"

    # Passed a year minus two weeks ago: expiring inside the 30-day window.
    frozen_clock.set(datetime(2025, 12, 9, 10, tzinfo=UTC))
    finish(client, session, as_learner, modules[0])
    finish(client, session, as_learner, modules[1])
    frozen_clock.set(datetime(2026, 11, 25, 10, tzinfo=UTC))
    items = my_requirements(client, as_learner)
    assert items[modules[0].id]["status"] == "expiring"
    assert items[modules[0].id]["valid_until"] == "2026-12-09T10:00:00+00:00"
    assert items[modules[0].id]["due_at"] == "2026-12-09T10:00:00+00:00"
    assert items[modules[1].id]["status"] == "valid"
    assert items[modules[1].id]["valid_until"] is None

    frozen_clock.set(datetime(2026, 12, 10, 10, tzinfo=UTC))
    assert my_requirements(client, as_learner)[modules[0].id]["status"] == "expired"

    # A narrower window makes the same pass valid for now.
    org.settings = {"requirements": {"expiring_window_days": 7}}
    session.flush()
    frozen_clock.set(datetime(2026, 11, 25, 10, tzinfo=UTC))
    assert my_requirements(client, as_learner)[modules[0].id]["status"] == "valid"


def test_a_failed_attempt_does_not_satisfy(
    client, session, frozen_clock, modules, as_admin, as_learner
):
    require(client, as_admin, modules[0])
    finish(client, session, as_learner, modules[0], correct=False)
    assert my_requirements(client, as_learner)[modules[0].id]["status"] == "missing"
    finish(client, session, as_learner, modules[0], correct=True)
    assert my_requirements(client, as_learner)[modules[0].id]["status"] == "valid"


def test_requirements_apply_by_role_and_department_tree(
    client, session, frozen_clock, org, store, checkout, warehouse, modules, manager, as_admin
):
    by_store = require(client, as_admin, modules[0], department_id=store.id)
    by_role = require(client, as_admin, modules[1], role="manager")
    cashier_in_warehouse = require(
        client, as_admin, modules[2], department_id=warehouse.id, role="learner"
    )
    assert by_store and by_role and cashier_in_warehouse
    cashier = factories.make_user(session, org, "kasserer", department=checkout)
    stocker = factories.make_user(session, org, "lager", department=warehouse)
    assert set(my_requirements(client, auth_headers(session, cashier))) == {modules[0].id}
    assert set(my_requirements(client, auth_headers(session, stocker))) == {modules[2].id}
    assert set(my_requirements(client, auth_headers(session, manager))) == {
        modules[0].id,
        modules[1].id,
    }


def test_required_training_is_placed_in_the_current_path(
    client, session, frozen_clock, modules, as_admin, as_editor, as_learner
):
    require(client, as_admin, modules[0], validity_months=12)
    require(client, as_admin, modules[1])
    body = client.get("/api/v1/paths/current", headers=as_learner).json
    [required] = body["paths"]
    assert required["id"] == "required"
    assert required["title"] == "Påkrevd opplæring"
    assert required["mandatory"] is True and required["required"] is True
    assert [(m["id"], m["mandatory"], m["status"]) for m in required["modules"]] == [
        (modules[0].id, True, "available"),
        (modules[1].id, True, "available"),
    ]
    assert required["due_at"] == "2026-12-25T10:00:00+00:00"
    english = client.get(
        "/api/v1/paths/current", headers={**as_learner, "Accept-Language": "en"}
    ).json
    assert english["paths"][0]["title"] == "Required training"

    finish(client, session, as_learner, modules[0])
    [required] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    # Renewed this week: it stays, done, so the learner sees the progress.
    assert [m["status"] for m in required["modules"]] == ["completed", "available"]
    assert required["progress"] == {"completed": 1, "total": 2}
    # Next week, a valid requirement no longer needs a place in the path.
    frozen_clock.advance(days=7)
    [required] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert [m["id"] for m in required["modules"]] == [modules[1].id]
    # Other weeks never carry the required path.
    other = client.get("/api/v1/paths?week=2026-W47", headers=as_learner).json
    assert other["paths"] == []


def test_expiring_requirement_reappears_and_unlocks_despite_a_sequential_path(
    client, session, frozen_clock, modules, as_admin, as_editor, as_learner
):
    frozen_clock.set(datetime(2025, 12, 1, 10, tzinfo=UTC))
    finish(client, session, as_learner, modules[1])
    frozen_clock.set(datetime(2026, 11, 25, 10, tzinfo=UTC))
    require(client, as_admin, modules[1], validity_months=12)
    response = client.post(
        "/api/v1/editor/paths",
        json={
            "week": "2026-W48",
            "title": "Uke 48",
            "sequential": True,
            "modules": [{"module_id": modules[0].id}, {"module_id": modules[1].id}],
        },
        headers=as_editor,
    )
    assert response.status_code == 201
    body = client.get("/api/v1/paths/current", headers=as_learner).json
    required, weekly = body["paths"]
    assert required["id"] == "required"
    # Done before, but expiring: the required path asks for it again.
    assert [m["status"] for m in required["modules"]] == ["available"]
    assert [m["status"] for m in weekly["modules"]] == ["available", "completed"]
    started = client.post(f"/api/v1/modules/{modules[1].id}/attempts", headers=as_learner)
    assert started.status_code == 201
    [required, _weekly] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert [m["status"] for m in required["modules"]] == ["in_progress"]


def test_the_same_requirement_twice_is_409_with_the_existing_id(
    client, frozen_clock, store, modules, as_admin
):
    first = require(client, as_admin, modules[0], role="learner", department_id=store.id)
    again = client.post(
        "/api/v1/admin/requirements",
        json={"module_id": modules[0].id, "role": "learner", "department_id": store.id},
        headers=as_admin,
    )
    assert again.status_code == 409
    assert again.json["existing_id"] == first["id"]
    everyone = require(client, as_admin, modules[0])  # another audience: fine
    again = client.post(
        "/api/v1/admin/requirements", json={"module_id": modules[0].id}, headers=as_admin
    )
    assert again.status_code == 409 and again.json["existing_id"] == everyone["id"]
    require(client, as_admin, modules[0], role="learner")
    require(client, as_admin, modules[0], department_id=store.id)
