"""Admins find people (`GET /admin/users`) and give them one-time set-password links."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.identity.models import PasswordLink
from app.orgs.models import User
from app.orgs.service import UNUSABLE_PASSWORD
from tests import factories
from tests.api.test_errors import assert_problem

USERS = "/api/v1/admin/users"
SET_PASSWORD = "/api/v1/auth/set-password"


def login(client, username, password, organization="acme"):
    return client.post(
        "/api/v1/auth/login",
        json={"organization": organization, "username": username, "password": password},
    )


def listed(client, headers, **query):
    response = client.get(USERS, query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def usernames(body):
    return sorted(item["username"] for item in body["items"])


def test_search_by_username_or_display_name_any_case(client, session, org, as_admin):
    factories.make_user(session, org, "kari.n", display_name="Kari Nordmann")
    factories.make_user(session, org, "ola", display_name="Ola Nordvik")
    factories.make_user(session, org, "per", display_name="Per Hansen")
    factories.make_user(session, org, "under_score", display_name="X")

    assert usernames(listed(client, as_admin, q="NORD")) == ["kari.n", "ola"]
    assert usernames(listed(client, as_admin, q="per")) == ["per"]
    # LIKE wildcards in the search are plain characters.
    assert usernames(listed(client, as_admin, q="_")) == ["under_score"]
    assert usernames(listed(client, as_admin, q="%")) == []


def test_department_filter_takes_the_subtree_and_active_filters(
    client, session, org, store, checkout, warehouse, learner, colleague, manager, as_admin
):
    in_warehouse = factories.make_user(session, org, "lagermann", department=warehouse)
    colleague.active = False
    session.flush()

    assert usernames(listed(client, as_admin, department_id=store.id)) == [
        "colleague",
        "learner",
        "manager",
    ]
    assert usernames(listed(client, as_admin, department_id=checkout.id, active="false")) == [
        "colleague"
    ]
    assert usernames(listed(client, as_admin, department_id=warehouse.id)) == [
        in_warehouse.username
    ]
    assert "colleague" not in usernames(listed(client, as_admin, active="true"))


def test_shows_who_never_signed_in_and_the_last_login(client, session, org, learner, as_admin):
    factories.make_user(session, org, "newbie")
    assert login(client, "learner", factories.PASSWORD).status_code == 200

    items = {item["username"]: item for item in listed(client, as_admin)["items"]}
    assert items["newbie"]["never_signed_in"] is True
    assert items["newbie"]["last_login_at"] is None
    assert items["learner"]["never_signed_in"] is False
    assert items["learner"]["last_login_at"] is not None
    assert items["admin"]["never_signed_in"] is False  # its token came from a login


def test_pages_with_the_shared_cursor(client, session, org, as_admin):
    for n in range(25):
        factories.make_user(session, org, f"person{n:02d}")
    first = listed(client, as_admin, q="person", limit=10)
    second = listed(client, as_admin, q="person", limit=10, cursor=first["next_cursor"])
    third = listed(client, as_admin, q="person", limit=10, cursor=second["next_cursor"])
    seen = usernames(first) + usernames(second) + usernames(third)
    assert sorted(seen) == [f"person{n:02d}" for n in range(25)]
    assert third["next_cursor"] is None


def test_only_admins_of_the_organisation_and_bad_filters(
    client, session, other_org, other_org_admin, as_learner, as_admin, as_other_org_admin
):
    assert_problem(client.get(USERS, headers=as_learner), 403)
    assert "other" not in usernames(listed(client, as_admin))
    assert [i["id"] for i in listed(client, as_other_org_admin)["items"]] == [other_org_admin.id]
    theirs = factories.make_department(session, other_org, "Deres")
    assert_problem(
        client.get(USERS, query_string={"department_id": theirs.id}, headers=as_admin), 404
    )
    assert_problem(client.get(USERS, query_string={"active": "maybe"}, headers=as_admin), 422)
    assert_problem(client.get(USERS, query_string={"cursor": "garbage"}, headers=as_admin), 422)


def make_link(client, user, headers, purpose="reset"):
    response = client.post(
        f"{USERS}/{user.id}/password-links", json={"purpose": purpose}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json


def test_reset_link_sets_the_password_once_and_ends_every_login(client, session, learner, as_admin):
    old = login(client, "learner", factories.PASSWORD).json
    bearer = {"Authorization": f"Bearer {old['access_token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200  # its login is cached

    link = make_link(client, learner, as_admin)
    assert link["username"] == "learner" and link["organization"] == "acme"
    stored = session.scalars(select(PasswordLink.token_hash)).all()
    assert link["token"] not in stored and len(stored) == 1  # only a hash at rest
    [event] = session.scalars(select(AuditEvent)).all()
    assert (event.action, event.target) == ("user.password_link.reset", learner.id)
    assert link["token"] not in str(event.details)

    done = client.post(SET_PASSWORD, json={"token": link["token"], "password": "brand new pass"})
    assert done.status_code == 200, done.json
    assert done.json == {"organization": "acme", "username": "learner"}

    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]}
        ).status_code
        == 401
    )
    assert_problem(login(client, "learner", factories.PASSWORD), 401)
    assert login(client, "learner", "brand new pass").status_code == 200
    again = client.post(SET_PASSWORD, json={"token": link["token"], "password": "another pass"})
    assert_problem(again, 410)
    assert login(client, "learner", "brand new pass").status_code == 200


def test_an_invitation_lets_an_imported_user_in(client, session, org, as_admin):
    imported = factories.make_user(session, org, "seasonal")
    imported.password_hash = UNUSABLE_PASSWORD
    session.flush()
    link = make_link(client, imported, as_admin, purpose="invitation")
    assert link["purpose"] == "invitation"
    assert (
        client.post(
            SET_PASSWORD, json={"token": link["token"], "password": "summer 2027!"}
        ).status_code
        == 200
    )
    assert login(client, "seasonal", "summer 2027!").status_code == 200


def test_links_expire_and_a_newer_one_replaces_the_older(
    client, session, learner, as_admin, frozen_clock
):
    first = make_link(client, learner, as_admin)
    second = make_link(client, learner, as_admin)
    assert_problem(
        client.post(SET_PASSWORD, json={"token": first["token"], "password": "x" * 10}), 410
    )

    frozen_clock.advance(minutes=61)  # a reset link lives an hour
    assert_problem(
        client.post(SET_PASSWORD, json={"token": second["token"], "password": "x" * 10}), 410
    )

    invitation = make_link(client, learner, as_admin, purpose="invitation")
    frozen_clock.advance(hours=71)  # an invitation lives three days
    ok = client.post(SET_PASSWORD, json={"token": invitation["token"], "password": "x" * 10})
    assert ok.status_code == 200
    session.expire_all()
    assert login(client, "learner", "x" * 10).status_code == 200


def test_link_refusals(client, session, learner, other_org_admin, as_admin, as_learner):
    assert_problem(client.post(SET_PASSWORD, json={"token": "made-up", "password": "x" * 10}), 410)
    assert_problem(client.post(SET_PASSWORD, json={"token": "t", "password": "short"}), 422)
    assert_problem(
        client.post(f"{USERS}/{learner.id}/password-links", json={}, headers=as_learner), 403
    )
    assert_problem(
        client.post(f"{USERS}/{other_org_admin.id}/password-links", json={}, headers=as_admin), 404
    )
    assert_problem(
        client.post(
            f"{USERS}/{learner.id}/password-links", json={"purpose": "x"}, headers=as_admin
        ),
        422,
    )
    link = make_link(client, learner, as_admin)
    learner.active = False
    session.flush()
    assert_problem(
        client.post(SET_PASSWORD, json={"token": link["token"], "password": "x" * 10}), 410
    )
    assert_problem(
        client.post(f"{USERS}/{learner.id}/password-links", json={}, headers=as_admin), 409
    )
    assert session.get(User, learner.id).password_hash != ""
