"""A user of another organisation gets 404 on every resource of this one (never 403)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from app.learning.models import Attempt
from tests import factories
from tests.api.test_errors import assert_problem
from tests.conftest import auth_headers


@pytest.fixture
def outsider(session, other_org):
    """A learner of the other org (plain role, like most of its users)."""
    return factories.make_user(session, other_org, "outsider")


@pytest.fixture
def as_outsider(session, outsider):
    return auth_headers(session, outsider)


@pytest.fixture
def attempt(client, module, as_learner):
    response = client.post(f"/api/v1/modules/{module.id}/attempts", headers=as_learner)
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture(params=["outsider", "other_org_admin"])
def stranger(request, session, outsider, other_org_admin):
    """Both a plain learner and an admin/editor of the other organisation."""
    user = {"outsider": outsider, "other_org_admin": other_org_admin}[request.param]
    return auth_headers(session, user)


def test_get_module_is_404(client, module, stranger):
    assert_problem(client.get(f"/api/v1/modules/{module.id}", headers=stranger), 404)


def test_get_module_with_its_etag_is_still_404(client, module, as_learner, stranger):
    etag = client.get(f"/api/v1/modules/{module.id}", headers=as_learner).headers["ETag"]
    response = client.get(
        f"/api/v1/modules/{module.id}", headers={**stranger, "If-None-Match": etag}
    )
    assert_problem(response, 404)


def test_start_attempt_is_404(client, session, module, stranger):
    response = client.post(f"/api/v1/modules/{module.id}/attempts", headers=stranger)
    assert_problem(response, 404)
    count = session.scalar(select(func.count()).select_from(Attempt))
    assert count == 0


def test_answer_in_someone_elses_attempt_is_404(client, session, module, attempt, stranger):
    version = factories.current_version(session, module)
    question_id, choice_ids = next(iter(factories.correct_choices(version).items()))
    response = client.post(
        f"/api/v1/attempts/{attempt['id']}/answers",
        json={"question_id": question_id, "choice_ids": choice_ids},
        headers=stranger,
    )
    assert_problem(response, 404)


def test_complete_someone_elses_attempt_is_404(client, attempt, stranger, as_learner):
    assert_problem(client.post(f"/api/v1/attempts/{attempt['id']}/complete", headers=stranger), 404)
    # The owner's attempt is untouched and can still be completed.
    response = client.post(f"/api/v1/attempts/{attempt['id']}/complete", headers=as_learner)
    assert response.status_code == 200


def test_a_colleague_in_the_same_org_cannot_use_my_attempt_either(
    client, session, attempt, colleague
):
    headers = auth_headers(session, colleague)
    assert_problem(client.post(f"/api/v1/attempts/{attempt['id']}/complete", headers=headers), 404)


def test_patch_department_is_404(client, session, store, as_other_org_admin):
    response = client.patch(
        f"/api/v1/admin/departments/{store.id}",
        json={"name": "Ours now"},
        headers=as_other_org_admin,
    )
    assert_problem(response, 404)
    session.refresh(store)
    assert store.name == "Butikk Sentrum"


def test_patch_user_is_404(client, session, learner, as_other_org_admin):
    response = client.patch(
        f"/api/v1/admin/users/{learner.id}", json={"active": False}, headers=as_other_org_admin
    )
    assert_problem(response, 404)
    session.refresh(learner)
    assert learner.active is True


def test_the_other_orgs_admin_cannot_reach_our_tree_through_their_own(
    client, session, store, learner, as_other_org_admin
):
    created = client.post(
        "/api/v1/admin/departments",
        json={"name": "Infiltrator", "parent_id": store.id},
        headers=as_other_org_admin,
    )
    assert_problem(created, 404)
    managers = client.post(
        "/api/v1/admin/departments",
        json={"name": "Infiltrator", "manager_ids": [learner.id]},
        headers=as_other_org_admin,
    )
    assert_problem(managers, 404)
    user = client.post(
        "/api/v1/admin/users",
        json={
            "username": "spy",
            "display_name": "Spy",
            "password": "long enough password",
            "department_id": store.id,
            "roles": ["learner"],
        },
        headers=as_other_org_admin,
    )
    assert_problem(user, 404)


def test_module_list_shows_none_of_our_modules(client, session, org, other_org, module, stranger):
    theirs = factories.publish_module(session, other_org, factories.module_document(title="Deres"))
    response = client.get("/api/v1/modules", headers=stranger)
    assert response.status_code == 200
    assert [m["id"] for m in response.json["items"]] == [theirs.id]


def test_admin_lists_show_none_of_our_departments(client, store, checkout, as_other_org_admin):
    response = client.get("/api/v1/admin/departments", headers=as_other_org_admin)
    assert response.status_code == 200
    assert response.json["items"] == []


def test_an_offline_attempt_on_our_module_is_rejected(client, session, module, stranger):
    version = factories.current_version(session, module)
    event = {
        "client_id": str(uuid.uuid4()),
        "type": "attempt",
        "module_id": module.id,
        "module_version": version.version,
        "started_at": "2026-11-23T09:00:00+00:00",
        "completed_at": "2026-11-23T09:03:00+00:00",
        "answers": [
            {"question_id": q, "choice_ids": c, "answered_at": "2026-11-23T09:02:00+00:00"}
            for q, c in factories.correct_choices(version).items()
        ],
    }
    response = client.post("/api/v1/sync", json={"events": [event]}, headers=stranger)
    assert response.status_code == 200, response.json
    result = response.json["results"][0]
    assert result["status"] == "rejected"
    assert result["points_awarded"] == 0
    assert session.scalar(select(func.count()).select_from(Attempt)) == 0
