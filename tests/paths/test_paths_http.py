"""Weekly paths over HTTP: scheduling, audiences, statuses, unlocking and versions."""

from __future__ import annotations

from datetime import UTC, datetime

from app.orgs.models import Organization
from tests import factories
from tests.conftest import auth_headers
from tests.paths.conftest import finish, schedule


def statuses(body):
    return {p["id"]: [m["status"] for m in p["modules"]] for p in body["paths"]}


def test_editor_schedules_and_learner_sees_this_weeks_path(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    created = schedule(
        client,
        as_editor,
        modules,
        modules=[
            {"module_id": modules[0].id, "mandatory": True},
            {"module_id": modules[1].id, "mandatory": False},
        ],
        due_at="2026-11-29T20:00:00+01:00",
    )
    assert created["week"] == "2026-W48"
    assert [m["module_id"] for m in created["modules"]] == [modules[0].id, modules[1].id]
    assert created["due_at"] == "2026-11-29T19:00:00+00:00"

    response = client.get("/api/v1/paths/current", headers=as_learner)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["week"] == "2026-W48"
    assert (body["starts_on"], body["ends_on"]) == ("2026-11-23", "2026-11-29")
    [path] = body["paths"]
    assert path["id"] == created["id"]
    assert path["mandatory"] is True
    assert path["due_at"] == "2026-11-29T19:00:00+00:00"
    assert path["progress"] == {"completed": 0, "total": 2}
    assert [(m["id"], m["mandatory"], m["status"]) for m in path["modules"]] == [
        (modules[0].id, True, "available"),
        (modules[1].id, False, "available"),
    ]
    assert path["modules"][0]["title"] == "Modul 1"
    assert path["modules"][0]["estimated_minutes"] == 3


def test_progress_and_statuses_follow_attempts(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    schedule(client, as_editor, modules)
    finish(client, session, as_learner, modules[0], correct=False)  # completed, not passed
    started = client.post(f"/api/v1/modules/{modules[1].id}/attempts", headers=as_learner)
    assert started.status_code == 201
    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    # `completed` keeps its meaning (completed, whatever the score); the path counts passes.
    assert [m["status"] for m in path["modules"]] == ["completed", "in_progress", "available"]
    assert [m["passed"] for m in path["modules"]] == [False, False, False]
    assert path["progress"] == {"completed": 0, "total": 3}

    finish(client, session, as_learner, modules[0])
    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert [m["passed"] for m in path["modules"]] == [True, False, False]
    assert path["progress"] == {"completed": 1, "total": 3}


def test_another_week_by_query_and_bad_weeks(client, frozen_clock, modules, as_editor, as_learner):
    schedule(client, as_editor, modules[:1], week="2026-W47", title="Forrige uke")
    schedule(client, as_editor, modules[1:2], week="2026-W53", title="Romjul")
    current = client.get("/api/v1/paths/current", headers=as_learner).json
    assert current["paths"] == []
    last = client.get("/api/v1/paths?week=2026-W47", headers=as_learner)
    assert last.status_code == 200
    assert [p["title"] for p in last.json["paths"]] == ["Forrige uke"]
    christmas = client.get("/api/v1/paths?week=2026-W53", headers=as_learner).json
    assert (christmas["starts_on"], christmas["ends_on"]) == ("2026-12-28", "2027-01-03")
    assert [p["title"] for p in christmas["paths"]] == ["Romjul"]
    for bad in ("2027-W53", "2026-48", "uke", "2026-W00"):
        response = client.get(f"/api/v1/paths?week={bad}", headers=as_learner)
        assert response.status_code == 422, bad
        assert response.mimetype == "application/problem+json"
        assert "week" in response.json["errors"]
    missing = client.get("/api/v1/paths", headers=as_learner)
    assert missing.status_code == 422
    assert "week" in missing.json["errors"]


def test_current_week_is_the_organisations(client, session, frozen_clock, org, modules, as_editor):
    schedule(client, as_editor, modules[:1], week="2026-W49")
    learner = factories.make_user(session, org, "nattevakt")
    headers = auth_headers(session, learner)
    # Sunday 23:30 UTC is already Monday of week 49 in Oslo.
    frozen_clock.set(datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
    body = client.get("/api/v1/paths/current", headers=headers).json
    assert body["week"] == "2026-W49"
    assert body["timezone"] == "Europe/Oslo"
    assert len(body["paths"]) == 1


def test_audience_department_trees_and_roles(
    client,
    session,
    frozen_clock,
    org,
    store,
    checkout,
    warehouse,
    modules,
    learner,
    manager,
    as_editor,
    as_learner,
):
    for_store = schedule(
        client, as_editor, modules[:1], title="Butikken", audience={"department_ids": [store.id]}
    )
    for_warehouse = schedule(
        client,
        as_editor,
        modules[1:2],
        title="Lageret",
        audience={"department_ids": [warehouse.id]},
    )
    for_managers = schedule(
        client, as_editor, modules[2:], title="Ledere", audience={"roles": ["manager"]}
    )
    for_store_cashiers = schedule(
        client,
        as_editor,
        modules[2:],
        title="Kasse i butikken",
        audience={"department_ids": [store.id], "roles": ["learner"]},
    )
    everyone = schedule(client, as_editor, modules[:1], title="Alle")
    stocker = factories.make_user(session, org, "lagerarbeider", department=warehouse)

    def seen(headers):
        body = client.get("/api/v1/paths/current", headers=headers).json
        return {p["id"] for p in body["paths"]}

    # The learner sits in checkout, under store: the store's path reaches them.
    assert seen(as_learner) == {for_store["id"], for_store_cashiers["id"], everyone["id"]}
    assert seen(auth_headers(session, stocker)) == {for_warehouse["id"], everyone["id"]}
    assert seen(auth_headers(session, manager)) == {
        for_store["id"],
        for_managers["id"],
        for_store_cashiers["id"],
        everyone["id"],
    }


def test_a_learner_never_sees_another_organisations_path(
    client, session, frozen_clock, other_org, modules, as_editor
):
    schedule(client, as_editor, modules)
    outsider = factories.make_user(session, other_org, "utenfor")
    body = client.get("/api/v1/paths/current", headers=auth_headers(session, outsider)).json
    assert body["paths"] == []


def test_sequential_path_unlocks_in_order_and_start_is_409(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    schedule(client, as_editor, modules, sequential=True)
    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert path["sequential"] is True
    assert [m["status"] for m in path["modules"]] == ["available", "locked", "locked"]

    refused = client.post(f"/api/v1/modules/{modules[1].id}/attempts", headers=as_learner)
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert "Modul 1" in refused.json["reason"]
    assert "Uke 48" in refused.json["detail"]

    finish(client, session, as_learner, modules[0])
    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert [m["status"] for m in path["modules"]] == ["completed", "available", "locked"]
    assert (
        client.post(f"/api/v1/modules/{modules[1].id}/attempts", headers=as_learner).status_code
        == 201
    )


def test_a_module_is_locked_only_if_every_path_locks_it(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    sequential = schedule(client, as_editor, modules[:2], title="I rekkefølge", sequential=True)
    free = schedule(client, as_editor, modules[1:2], title="Fritt")
    body = client.get("/api/v1/paths/current", headers=as_learner).json
    assert statuses(body)[sequential["id"]] == ["available", "available"]
    assert statuses(body)[free["id"]] == ["available"]
    started = client.post(f"/api/v1/modules/{modules[1].id}/attempts", headers=as_learner)
    assert started.status_code == 201


def test_modules_outside_this_weeks_paths_are_not_locked_by_them(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    schedule(client, as_editor, modules[:2], sequential=True, week="2026-W49")
    started = client.post(f"/api/v1/modules/{modules[1].id}/attempts", headers=as_learner)
    assert started.status_code == 201


def test_prerequisites_lock_modules_in_any_path(
    client, session, frozen_clock, org, modules, as_editor, as_learner
):
    advanced = factories.publish_module(
        session,
        org,
        factories.module_document(title="Viderekommen"),
        prerequisite_ids=[modules[0].id],
    )
    schedule(client, as_editor, [advanced])
    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert path["modules"][0]["status"] == "locked"
    finish(client, session, as_learner, modules[0])
    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert path["modules"][0]["status"] == "available"


def test_new_versions_keep_the_path_and_old_progress(
    client, session, frozen_clock, org, modules, as_editor, as_learner
):
    schedule(client, as_editor, modules[:2], sequential=True)
    finish(client, session, as_learner, modules[0])
    factories.publish_module(
        session, org, factories.module_document(title="Modul 1, ny utgave"), module=modules[0]
    )
    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert path["modules"][0]["title"] == "Modul 1, ny utgave"
    assert [m["status"] for m in path["modules"]] == ["completed", "available"]
    again = client.post(f"/api/v1/modules/{modules[0].id}/attempts", headers=as_learner)
    assert again.status_code == 201
    assert again.json["module_version"] == 2


def test_archived_or_unpublished_modules_drop_out_of_the_learners_view(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    schedule(client, as_editor, modules[:2])
    modules[1].status = "archived"
    session.flush()
    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert [m["id"] for m in path["modules"]] == [modules[0].id]


def test_onboarding_template_follows_each_learners_start(
    client, session, frozen_clock, org, modules, checkout, as_editor
):
    week1 = schedule(
        client, as_editor, modules[:1], week=None, onboarding_week=1, title="Velkommen, uke 1"
    )
    week2 = schedule(
        client, as_editor, modules[1:2], week=None, onboarding_week=2, title="Velkommen, uke 2"
    )
    assert week1["week"] is None and week1["onboarding_week"] == 1
    new_hire = factories.make_user(session, org, "nyansatt", department=checkout)
    new_hire.created_at = datetime(2026, 11, 24, 8, tzinfo=UTC)
    veteran = factories.make_user(session, org, "veteran", department=checkout)
    veteran.created_at = datetime(2024, 1, 10, tzinfo=UTC)
    session.flush()
    new_headers = auth_headers(session, new_hire)
    body = client.get("/api/v1/paths/current", headers=new_headers).json
    assert [p["id"] for p in body["paths"]] == [week1["id"]]
    # Without its own due time an onboarding path is due at the end of that week (Oslo).
    assert body["paths"][0]["due_at"] == "2026-11-29T23:00:00+00:00"
    next_week = client.get("/api/v1/paths?week=2026-W49", headers=new_headers).json
    assert [p["id"] for p in next_week["paths"]] == [week2["id"]]
    old = client.get("/api/v1/paths/current", headers=auth_headers(session, veteran)).json
    assert old["paths"] == []


def test_onboarding_counts_from_the_first_working_day_an_admin_sets(
    client, session, frozen_clock, org, modules, checkout, as_editor, as_admin
):
    week2 = schedule(
        client, as_editor, modules[1:2], week=None, onboarding_week=2, title="Velkommen, uke 2"
    )
    # Imported today, but started last Monday: this is their second week, not their first.
    transferred = factories.make_user(session, org, "overfort", department=checkout)
    headers = auth_headers(session, transferred)
    assert client.get("/api/v1/paths/current", headers=headers).json["paths"] == []
    response = client.patch(
        f"/api/v1/admin/users/{transferred.id}", json={"started_on": "2026-11-16"}, headers=as_admin
    )
    assert response.status_code == 200, response.json
    assert response.json["started_on"] == "2026-11-16"
    body = client.get("/api/v1/paths/current", headers=headers).json
    assert [p["id"] for p in body["paths"]] == [week2["id"]]
    # Someone who started years ago gets no onboarding at all.
    client.patch(
        f"/api/v1/admin/users/{transferred.id}", json={"started_on": "2019-03-04"}, headers=as_admin
    )
    assert client.get("/api/v1/paths/current", headers=headers).json["paths"] == []


def test_editor_post_errors(client, session, frozen_clock, org, other_org, modules, as_editor):
    draft = factories.publish_module(session, org, factories.module_document())
    draft.status = "draft"
    foreign = factories.publish_module(session, other_org, factories.module_document())
    foreign_department = factories.make_department(session, other_org, "Fremmed")
    session.flush()
    response = client.post(
        "/api/v1/editor/paths",
        json={
            "week": "2026-W48",
            "title": "Uke 48",
            "audience": {"department_ids": [foreign_department.id], "roles": ["boss"]},
            "modules": [
                {"module_id": modules[0].id, "mandatory": True},
                {"module_id": draft.id, "mandatory": True},
                {"module_id": foreign.id, "mandatory": False},
                {"module_id": "nope", "mandatory": False},
            ],
        },
        headers=as_editor,
    )
    assert response.status_code == 422
    errors = response.json["errors"]
    assert len(errors["modules"]) == 3
    assert all(
        any(bad in message for message in errors["modules"])
        for bad in (draft.id, foreign.id, "nope")
    )
    assert modules[0].id not in " ".join(errors["modules"])
    assert "audience.department_ids" in errors and "audience.roles" in errors

    def post(**changes):
        body = {"week": "2026-W48", "title": "T", "modules": [{"module_id": modules[0].id}]}
        body.update(changes)
        return client.post("/api/v1/editor/paths", json=body, headers=as_editor)

    assert "week" in post(week="2027-W53").json["errors"]
    assert "week" in post(week=None).json["errors"]
    assert "week" in post(onboarding_week=1).json["errors"]
    assert "modules" in post(modules=[]).json["errors"]
    assert "title" in post(title="").json["errors"]
    dup = post(modules=[{"module_id": modules[0].id}, {"module_id": modules[0].id}])
    assert dup.status_code == 422 and "modules" in dup.json["errors"]
    assert post(due_at="2026-11-29T20:00:00").status_code == 422  # no offset
    malformed = client.post(
        "/api/v1/editor/paths",
        data="{",
        headers={**as_editor, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400


def test_who_may_schedule(client, session, frozen_clock, modules, as_learner, as_manager, as_admin):
    body = {"week": "2026-W48", "title": "T", "modules": [{"module_id": modules[0].id}]}
    assert client.post("/api/v1/editor/paths", json=body).status_code == 401
    assert client.post("/api/v1/editor/paths", json=body, headers=as_learner).status_code == 403
    assert client.post("/api/v1/editor/paths", json=body, headers=as_manager).status_code == 403
    assert client.post("/api/v1/editor/paths", json=body, headers=as_admin).status_code == 201
    assert client.get("/api/v1/paths/current").status_code == 401
    assert client.get("/api/v1/paths?week=2026-W48").status_code == 401
    bad_token = {"Authorization": "Bearer nope"}
    assert client.get("/api/v1/paths/current", headers=bad_token).status_code == 401


def test_editor_lists_reads_and_deletes_paths(
    client, session, frozen_clock, modules, as_editor, as_learner, as_other_org_admin
):
    first = schedule(client, as_editor, modules[:1])
    second = schedule(client, as_editor, modules[1:2], week="2026-W49")
    listed = client.get("/api/v1/editor/paths?week=2026-W48", headers=as_editor)
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json["items"]] == [first["id"]]
    everything = client.get("/api/v1/editor/paths", headers=as_editor).json["items"]
    assert [p["id"] for p in everything] == [first["id"], second["id"]]
    assert client.get("/api/v1/editor/paths?week=x", headers=as_editor).status_code == 422
    assert client.get("/api/v1/editor/paths", headers=as_learner).status_code == 403
    one = client.get(f"/api/v1/editor/paths/{first['id']}", headers=as_editor)
    assert one.status_code == 200 and one.json["title"] == "Uke 48"
    # Another organisation's admin (also an editor) cannot see or delete it.
    theirs = client.get(f"/api/v1/editor/paths/{first['id']}", headers=as_other_org_admin)
    assert theirs.status_code == 404
    gone = client.delete(f"/api/v1/editor/paths/{first['id']}", headers=as_other_org_admin)
    assert gone.status_code == 404
    assert client.get("/api/v1/editor/paths", headers=as_other_org_admin).json["items"] == []
    deleted = client.delete(f"/api/v1/editor/paths/{first['id']}", headers=as_editor)
    assert deleted.status_code == 204
    assert client.get("/api/v1/paths/current", headers=as_learner).json["paths"] == []
    again = client.delete(f"/api/v1/editor/paths/{first['id']}", headers=as_editor)
    assert again.status_code == 404


def test_english_titles_with_accept_language(
    client, session, frozen_clock, org: Organization, as_editor, as_learner
):
    module = factories.publish_module(session, org, factories.module_document())
    schedule(client, as_editor, [module])
    body = client.get("/api/v1/paths/current", headers={**as_learner, "Accept-Language": "en"}).json
    assert body["paths"][0]["modules"][0]["title"] == "The cold chain"


def test_every_locking_path_is_named_in_the_409(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    schedule(client, as_editor, [modules[0], modules[2]], title="Først A", sequential=True)
    schedule(client, as_editor, [modules[1], modules[2]], title="Først B", sequential=True)
    refused = client.post(f"/api/v1/modules/{modules[2].id}/attempts", headers=as_learner)
    assert refused.status_code == 409
    assert "Først A" in refused.json["reason"] and "Først B" in refused.json["reason"]
    finish(client, session, as_learner, modules[0])
    # One path still locks it, the other no longer does: it is open.
    body = client.get("/api/v1/paths/current", headers=as_learner).json
    assert {p["title"]: p["modules"][1]["status"] for p in body["paths"]} == {
        "Først A": "available",
        "Først B": "available",
    }
    assert (
        client.post(f"/api/v1/modules/{modules[2].id}/attempts", headers=as_learner).status_code
        == 201
    )


def test_a_required_module_is_open_even_if_a_sequential_path_locks_it(
    client, session, frozen_clock, modules, as_admin, as_editor, as_learner
):
    schedule(client, as_editor, modules[:2], sequential=True)
    required = client.post(
        "/api/v1/admin/requirements", json={"module_id": modules[1].id}, headers=as_admin
    )
    assert required.status_code == 201
    body = client.get("/api/v1/paths/current", headers=as_learner).json
    assert {p["id"]: [m["status"] for m in p["modules"]] for p in body["paths"]}["required"] == [
        "available"
    ]
    weekly = next(p for p in body["paths"] if p["id"] != "required")
    assert [m["status"] for m in weekly["modules"]] == ["available", "available"]
    assert (
        client.post(f"/api/v1/modules/{modules[1].id}/attempts", headers=as_learner).status_code
        == 201
    )
