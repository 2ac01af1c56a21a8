"""The week's structure is cached per process (`app.paths.structure`): every write that changes
it is seen on the next read, here and in another app instance, and the invalidation goes out
over Redis to the other processes."""

from __future__ import annotations

import json
import time
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import Session

from app import caching, create_app, db
from app.paths import service
from tests import factories
from tests.conftest import auth_headers
from tests.paths.conftest import schedule
from tests.paths.test_query_count import count_queries

EDITOR = "/api/v1/editor"


def cached_week(client: FlaskClient, session: Session, headers: dict[str, str]) -> Any:
    """This week, read until a read comes from the caches (no query, the learner's progress
    included), so that what follows tests invalidation, not a cold cache. Tries thrice."""
    seen: list[list[str]] = []
    for _ in range(3):
        client.get("/api/v1/paths/current", headers=headers)
        with count_queries(session) as statements:
            response = client.get("/api/v1/paths/current", headers=headers)
        assert response.status_code == 200, response.json
        if not statements:
            return response.json
        seen.append(statements)
    raise AssertionError(f"the week was not cached: {seen}")


def week(client: FlaskClient, headers: dict[str, str]) -> Any:
    response = client.get("/api/v1/paths/current", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def path_ids(body: Any) -> list[str]:
    return [path["id"] for path in body["paths"]]


def module_ids(body: Any) -> list[list[str]]:
    return [[module["id"] for module in path["modules"]] for path in body["paths"]]


def test_scheduling_and_deleting_paths_is_seen_on_the_next_read(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    first = schedule(client, as_editor, modules[:1])
    assert path_ids(cached_week(client, session, as_learner)) == [first["id"]]

    second = schedule(client, as_editor, modules[1:2], title="Uke 48, del 2")
    assert path_ids(week(client, as_learner)) == [first["id"], second["id"]]

    cached_week(client, session, as_learner)
    deleted = client.delete(f"{EDITOR}/paths/{first['id']}", headers=as_editor)
    assert deleted.status_code == 204
    assert path_ids(week(client, as_learner)) == [second["id"]]
    # Another week's entry is kept apart from this week's.
    other = client.get("/api/v1/paths?week=2026-W49", headers=as_learner).json
    assert other["paths"] == []
    next_week = schedule(client, as_editor, modules[:1], week="2026-W49", title="Uke 49")
    other = client.get("/api/v1/paths?week=2026-W49", headers=as_learner).json
    assert path_ids(other) == [next_week["id"]]


def test_a_new_onboarding_template_is_seen_on_the_next_read(
    client, session, frozen_clock, org, checkout, modules, as_editor
):
    new_hire = factories.make_user(session, org, "nyansatt", department=checkout)
    new_hire.created_at = datetime(2026, 11, 24, 8, tzinfo=UTC)
    session.flush()
    headers = auth_headers(session, new_hire)
    weekly = schedule(client, as_editor, modules[:1])
    assert path_ids(cached_week(client, session, headers)) == [weekly["id"]]
    template = schedule(
        client, as_editor, modules[1:2], week=None, onboarding_week=1, title="Velkommen"
    )
    assert sorted(path_ids(week(client, headers))) == sorted([weekly["id"], template["id"]])


def test_publishing_archiving_and_unarchiving_a_module_is_seen_on_the_next_read(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    created = client.post(
        f"{EDITOR}/modules", json=factories.module_document(title="Kjølekjeden"), headers=as_editor
    )
    assert created.status_code == 201, created.json
    module_id = created.json["id"]
    assert (
        client.post(f"{EDITOR}/modules/{module_id}/publish", headers=as_editor).status_code == 200
    )
    schedule(
        client,
        as_editor,
        [modules[0]],
        modules=[{"module_id": modules[0].id}, {"module_id": module_id}],
    )
    [path] = cached_week(client, session, as_learner)["paths"]
    assert [m["title"] for m in path["modules"]] == ["Modul 1", "Kjølekjeden"]

    # A new version becomes the current one: its title shows.
    etag = client.get(f"{EDITOR}/modules/{module_id}", headers=as_editor).headers["ETag"]
    saved = client.put(
        f"{EDITOR}/modules/{module_id}",
        json=factories.module_document(title="Kjølekjeden, ny utgave"),
        headers={**as_editor, "If-Match": etag},
    )
    assert saved.status_code == 200, saved.json
    assert (
        client.post(f"{EDITOR}/modules/{module_id}/publish", headers=as_editor).status_code == 200
    )
    [path] = week(client, as_learner)["paths"]
    assert [m["title"] for m in path["modules"]] == ["Modul 1", "Kjølekjeden, ny utgave"]

    cached_week(client, session, as_learner)
    assert (
        client.post(f"{EDITOR}/modules/{module_id}/archive", headers=as_editor).status_code == 200
    )
    assert module_ids(week(client, as_learner)) == [[modules[0].id]]

    cached_week(client, session, as_learner)
    restored = client.post(f"{EDITOR}/modules/{module_id}/unarchive", headers=as_editor)
    assert restored.status_code == 200
    assert module_ids(week(client, as_learner)) == [[modules[0].id, module_id]]


def test_moving_a_department_is_seen_on_the_next_read(
    client, session, frozen_clock, store, warehouse, modules, as_admin, as_editor, as_learner
):
    # The learner sits in checkout, under store; the path is for the warehouse and below.
    for_warehouse = schedule(
        client, as_editor, modules[:1], audience={"department_ids": [warehouse.id]}
    )
    assert path_ids(cached_week(client, session, as_learner)) == []
    moved = client.patch(
        f"/api/v1/admin/departments/{store.id}",
        json={"parent_id": warehouse.id},
        headers=as_admin,
    )
    assert moved.status_code == 200, moved.json
    assert path_ids(week(client, as_learner)) == [for_warehouse["id"]]

    cached_week(client, session, as_learner)
    back = client.patch(
        f"/api/v1/admin/departments/{store.id}", json={"parent_id": None}, headers=as_admin
    )
    assert back.status_code == 200, back.json
    assert path_ids(week(client, as_learner)) == []


def test_adding_and_dropping_a_requirement_is_seen_on_the_next_read(
    client, session, frozen_clock, modules, as_admin, as_editor, as_learner
):
    schedule(client, as_editor, modules[:1])
    assert "required" not in path_ids(cached_week(client, session, as_learner))
    created = client.post(
        "/api/v1/admin/requirements", json={"module_id": modules[2].id}, headers=as_admin
    )
    assert created.status_code == 201, created.json
    body = week(client, as_learner)
    assert path_ids(body)[0] == "required"
    assert module_ids(body)[0] == [modules[2].id]
    mine = client.get("/api/v1/me/requirements", headers=as_learner).json["items"]
    assert [item["module"]["id"] for item in mine] == [modules[2].id]

    cached_week(client, session, as_learner)
    dropped = client.delete(f"/api/v1/admin/requirements/{created.json['id']}", headers=as_admin)
    assert dropped.status_code == 204
    assert "required" not in path_ids(week(client, as_learner))
    assert client.get("/api/v1/me/requirements", headers=as_learner).json["items"] == []


def test_a_change_another_transaction_rolled_back_is_not_kept(
    client, session, frozen_clock, modules, learner, as_editor, as_learner
):
    schedule(client, as_editor, modules[:2])
    assert module_ids(cached_week(client, session, as_learner)) == [[m.id for m in modules[:2]]]
    savepoint = session.begin_nested()
    modules[1].status = "archived"
    session.flush()
    # What this transaction sees (its own archived module) must not go into the caches...
    seen = service.learner_week(
        session, user=learner, week=None, locales=["nb"], now=frozen_clock()
    )
    assert [[m["id"] for m in p["modules"]] for p in seen["paths"]] == [[modules[0].id]]
    savepoint.rollback()
    # ...since it never happened.
    assert module_ids(week(client, as_learner)) == [[m.id for m in modules[:2]]]


@pytest.fixture
def second_app(app: Flask, session: Session) -> Flask:
    """Another instance of the app on the same database and Redis (as another process has)."""
    connection = session.connection()
    config = {
        key: app.config[key]
        for key in (
            "TESTING",
            "ENGINE",
            "REDIS_CLIENT",
            "REDIS_URL",
            "SECRET_KEY",
            "ACCESS_LOG",
            "MEDIA_DIR",
        )
    }
    with warnings.catch_warnings():
        # create_app binds the session factory to the engine (and warns that the test's
        # session exists already); bind it back so both apps work in the test's transaction.
        warnings.simplefilter("ignore", SAWarning)
        other = create_app(config)
        db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    return other


def test_a_second_app_instance_sees_the_changes_of_the_first(
    client, session, second_app, frozen_clock, modules, as_editor, as_learner
):
    other = second_app.test_client()
    first = schedule(client, as_editor, modules[:1])
    assert path_ids(cached_week(client, session, as_learner)) == [first["id"]]
    assert path_ids(week(other, as_learner)) == [first["id"]]

    second = schedule(other, as_editor, modules[1:2], title="Fra den andre")
    assert path_ids(week(client, as_learner)) == [first["id"], second["id"]]
    third = schedule(client, as_editor, modules[2:], title="Fra den første")
    assert path_ids(week(other, as_learner)) == [first["id"], second["id"], third["id"]]


def test_every_invalidation_is_published_for_the_other_processes(
    client, session, redis_client, frozen_clock, org, store, modules, as_admin, as_editor
):
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(caching.channel(redis_client))
    try:
        pubsub.get_message(timeout=1.0)  # the subscription
        path = schedule(client, as_editor, modules[:1])
        client.delete(f"{EDITOR}/paths/{path['id']}", headers=as_editor)
        client.post(f"{EDITOR}/modules/{modules[0].id}/archive", headers=as_editor)
        client.patch(
            f"/api/v1/admin/departments/{store.id}", json={"name": "Sentrum"}, headers=as_admin
        )
        client.post(
            "/api/v1/admin/requirements", json={"module_id": modules[1].id}, headers=as_admin
        )
        published: list[dict[str, Any]] = []
        expected = [
            {"cache": "paths.paths", "keys": [f"{org.id}:2026-W48"]},  # the create
            {"cache": "paths.paths", "keys": [f"{org.id}:2026-W48"]},  # and the delete
            {"cache": "paths.modules", "keys": [modules[0].id]},
            {"cache": "orgs.departments", "keys": [org.id]},  # the tree: app.orgs.facts
            {"cache": "paths.requirements", "keys": [org.id]},
        ]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(
            published.count(item) >= expected.count(item) for item in expected
        ):
            message = pubsub.get_message(timeout=0.2)
            if message is not None and message["type"] == "message":
                published.append(json.loads(message["data"]))
    finally:
        pubsub.close()
    for item in expected:
        assert published.count(item) >= expected.count(item), (item, published)


def test_the_learners_own_progress_is_seen_on_the_next_read(
    client, session, frozen_clock, modules, as_editor, as_learner
):
    from tests.paths.conftest import finish

    schedule(client, as_editor, modules[:2], sequential=True)
    before = cached_week(client, session, as_learner)
    assert [m["status"] for m in before["paths"][0]["modules"]] == ["available", "locked"]

    started = client.post(f"/api/v1/modules/{modules[0].id}/attempts", headers=as_learner)
    assert started.status_code == 201
    assert week(client, as_learner)["paths"][0]["modules"][0]["status"] == "in_progress"

    finish(client, session, as_learner, modules[0])
    after = week(client, as_learner)
    assert [m["status"] for m in after["paths"][0]["modules"]] == ["completed", "available"]
