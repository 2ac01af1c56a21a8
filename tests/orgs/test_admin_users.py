"""Admin: user accounts, roles, deactivation, and who may use the admin endpoints."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.orgs.models import User
from tests import factories
from tests.api.test_errors import assert_problem
from tests.conftest import auth_headers

USERS = "/api/v1/admin/users"


def new_user(**changes):
    return {
        "username": "nora",
        "display_name": "Nora Nilsen",
        "password": "a long enough password",
        "department_id": None,
        "roles": ["learner"],
        **changes,
    }


def login(client, username, password):
    return client.post(
        "/api/v1/auth/login",
        json={"organization": "acme", "username": username, "password": password},
    )


def test_create_a_user_who_can_log_in(client, checkout, as_admin):
    response = client.post(
        USERS,
        json=new_user(department_id=checkout.id, roles=["learner", "manager"]),
        headers=as_admin,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["username"] == "nora"
    assert body["display_name"] == "Nora Nilsen"
    assert body["roles"] == ["learner", "manager"]
    assert body["department"] == {"id": checkout.id, "name": "Kasse"}
    assert body["active"] is True
    assert "password" not in response.get_data(as_text=True)
    logged_in = login(client, "nora", "a long enough password")
    assert logged_in.status_code == 200
    assert logged_in.json["user"]["id"] == body["id"]


def test_repeated_roles_are_stored_once(client, learner, as_admin):
    created = client.post(
        USERS, json=new_user(roles=["learner", "editor", "learner"]), headers=as_admin
    )
    assert created.json["roles"] == ["learner", "editor"]
    patched = client.patch(
        f"{USERS}/{learner.id}", json={"roles": ["manager", "manager"]}, headers=as_admin
    )
    assert patched.json["roles"] == ["manager"]


def test_a_duplicate_username_is_409(client, learner, as_admin):
    body = assert_problem(
        client.post(USERS, json=new_user(username="learner"), headers=as_admin), 409
    )
    assert "username" in body["errors"]


def test_the_same_username_as_in_another_org_is_fine(client, other_org_admin, as_admin):
    assert client.post(USERS, json=new_user(username="admin2"), headers=as_admin).status_code == 201
    # other_org_admin is called "admin" in the other org; "admin" here is taken by our admin.
    assert client.post(USERS, json=new_user(username="admin"), headers=as_admin).status_code == 409


def test_an_unknown_role_is_422(client, as_admin):
    body = assert_problem(
        client.post(USERS, json=new_user(roles=["learner", "superuser"]), headers=as_admin), 422
    )
    assert any(key.startswith("roles") for key in body["errors"])


def test_a_department_of_another_org_is_404(client, session, other_org, as_admin):
    theirs = factories.make_department(session, other_org, "Deres avdeling")
    response = client.post(USERS, json=new_user(department_id=theirs.id), headers=as_admin)
    assert_problem(response, 404)


def test_invalid_user_fields_are_422(client, as_admin):
    body = assert_problem(
        client.post(USERS, json=new_user(username="has space", password="short"), headers=as_admin),
        422,
    )
    assert {"username", "password"} <= set(body["errors"])


def test_patch_roles_department_display_name(client, session, learner, warehouse, as_admin):
    response = client.patch(
        f"{USERS}/{learner.id}",
        json={"roles": ["learner", "editor"], "department_id": warehouse.id, "display_name": "Lea"},
        headers=as_admin,
    )
    assert response.status_code == 200, response.json
    assert response.json["roles"] == ["learner", "editor"]
    assert response.json["department"] == {"id": warehouse.id, "name": "Lager Nord"}
    assert response.json["display_name"] == "Lea"
    removed = client.patch(f"{USERS}/{learner.id}", json={"department_id": None}, headers=as_admin)
    assert removed.json["department"] is None


def test_patch_password_changes_the_login_and_ends_old_logins(client, learner, as_admin):
    old = login(client, "learner", factories.PASSWORD).json
    response = client.patch(
        f"{USERS}/{learner.id}", json={"password": "a brand new password"}, headers=as_admin
    )
    assert response.status_code == 200
    assert login(client, "learner", factories.PASSWORD).status_code == 401
    assert login(client, "learner", "a brand new password").status_code == 200
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {old['access_token']}"})
    assert me.status_code == 401


def test_patch_with_bad_values(client, session, learner, other_org, as_admin):
    url = f"{USERS}/{learner.id}"
    assert_problem(client.patch(url, json={"roles": ["boss"]}, headers=as_admin), 422)
    assert_problem(client.patch(url, json={"roles": []}, headers=as_admin), 422)
    theirs = factories.make_department(session, other_org, "Deres")
    assert_problem(client.patch(url, json={"department_id": theirs.id}, headers=as_admin), 404)
    assert_problem(client.patch(url, json={"username": "admin"}, headers=as_admin), 409)


def test_deactivation_refuses_login_ends_tokens_and_keeps_history(
    client, session, learner, module, as_learner, as_admin
):
    attempt = client.post(f"/api/v1/modules/{module.id}/attempts", headers=as_learner)
    assert attempt.status_code == 201
    pair = login(client, "learner", factories.PASSWORD).json

    response = client.patch(f"{USERS}/{learner.id}", json={"active": False}, headers=as_admin)
    assert response.status_code == 200
    assert response.json["active"] is False

    assert_problem(login(client, "learner", factories.PASSWORD), 401)
    assert client.get("/api/v1/me", headers=as_learner).status_code == 401
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    # History is kept: the account and its attempt are still there.
    from app.learning.models import Attempt

    session.expire_all()
    assert session.get(User, learner.id) is not None
    assert session.get(Attempt, attempt.json["id"]) is not None

    again = client.patch(f"{USERS}/{learner.id}", json={"active": True}, headers=as_admin)
    assert again.json["active"] is True
    assert login(client, "learner", factories.PASSWORD).status_code == 200


def test_another_orgs_user_is_404(client, session, other_org_admin, as_admin):
    response = client.patch(
        f"{USERS}/{other_org_admin.id}", json={"display_name": "Hacked"}, headers=as_admin
    )
    assert_problem(response, 404)
    session.refresh(other_org_admin)
    assert other_org_admin.display_name != "Hacked"


def test_an_unknown_user_is_404(client, as_admin):
    assert_problem(client.patch(f"{USERS}/nope", json={"active": False}, headers=as_admin), 404)


ADMIN_CALLS = [
    ("get", "/api/v1/admin/departments", None),
    ("post", "/api/v1/admin/departments", {"name": "X"}),
    ("patch", "/api/v1/admin/departments/{store}", {"name": "X"}),
    ("post", "/api/v1/admin/users", new_user()),
    ("patch", "/api/v1/admin/users/{learner}", {"display_name": "X"}),
    ("post", "/api/v1/admin/users/import", "csv"),
]


@pytest.mark.parametrize("role", ["learner", "manager", "editor"])
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_non_admins_get_403_on_every_admin_endpoint(
    client, session, org, store, learner, manager, editor, role, method, path, body
):
    user = {"learner": learner, "manager": manager, "editor": editor}[role]
    headers = auth_headers(session, user)
    url = path.format(store=store.id, learner=learner.id)
    before = session.scalar(select(func.count()).select_from(User))
    if body == "csv":
        response = client.post(
            url,
            data=b"username,display_name,department,roles\nx,X,,learner\n",
            content_type="text/csv",
            headers=headers,
        )
    else:
        response = getattr(client, method)(url, json=body, headers=headers)
    assert_problem(response, 403)
    assert session.scalar(select(func.count()).select_from(User)) == before


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_endpoints_need_a_token(client, store, learner, method, path, body):
    url = path.format(store=store.id, learner=learner.id)
    if body == "csv":
        response = client.post(url, data=b"username\n", content_type="text/csv")
    else:
        response = getattr(client, method)(url, json=body)
    assert_problem(response, 401)
