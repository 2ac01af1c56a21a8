"""`/api/v1/screens`: who may make, see and revoke a store's screen, and what is stored."""

from __future__ import annotations

import hashlib
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.orgs.models import Department
from app.screens.models import Screen
from tests import factories


def test_a_manager_makes_a_screen_whose_secret_is_stored_only_hashed(
    client: FlaskClient, session: Session, screen: dict[str, Any], checkout: Department
) -> None:
    token = screen["path"].rsplit("/", 1)[1]
    assert screen["path"] == f"/screens/{token}"
    assert len(token) >= 43  # 32 random bytes, base64: 256 bits
    assert screen["name"] == "Pauserommet" and screen["department_id"] == checkout.id
    stored = session.scalars(select(Screen)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(value) for value in vars(stored).values()}


def test_two_screens_get_different_secrets(
    client: FlaskClient, as_manager: dict[str, str], checkout: Department
) -> None:
    urls = {
        client.post(
            "/api/v1/screens",
            json={"department_id": checkout.id, "name": f"TV {n}"},
            headers=as_manager,
        ).json["url"]
        for n in range(3)
    }
    assert len(urls) == 3


def test_only_departments_one_manages(
    client: FlaskClient,
    session: Session,
    as_manager: dict[str, str],
    as_learner: dict[str, str],
    warehouse: Department,
    other_org: Any,
) -> None:
    foreign = factories.make_department(session, other_org, "Rival butikk")
    mine_not = client.post(
        "/api/v1/screens", json={"department_id": warehouse.id, "name": "TV"}, headers=as_manager
    )
    assert mine_not.status_code == 403
    other = client.post(
        "/api/v1/screens", json={"department_id": foreign.id, "name": "TV"}, headers=as_manager
    )
    assert other.status_code == 404
    learner = client.post(
        "/api/v1/screens", json={"department_id": warehouse.id, "name": "TV"}, headers=as_learner
    )
    assert learner.status_code == 403
    assert client.get("/api/v1/screens").status_code == 401


def test_bad_bodies_are_422(
    client: FlaskClient, as_manager: dict[str, str], checkout: Department
) -> None:
    for body in ({}, {"department_id": checkout.id}, {"department_id": checkout.id, "name": ""}):
        answer = client.post("/api/v1/screens", json=body, headers=as_manager)
        assert answer.status_code == 422, body
        assert answer.content_type == "application/problem+json"


def test_the_list_shows_managed_screens_without_their_links(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    as_admin: dict[str, str],
    as_manager: dict[str, str],
    warehouse: Department,
) -> None:
    elsewhere = client.post(
        "/api/v1/screens", json={"department_id": warehouse.id, "name": "Lager"}, headers=as_admin
    )
    assert elsewhere.status_code == 201
    managers = client.get("/api/v1/screens", headers=as_manager).json
    assert [item["id"] for item in managers["items"]] == [screen["id"]]
    assert "url" not in managers["items"][0]
    admins = client.get("/api/v1/screens", headers=as_admin).json
    assert {item["id"] for item in admins["items"]} == {screen["id"], elsewhere.json["id"]}


def test_revoking_stops_the_link_at_once(
    client: FlaskClient, screen: dict[str, Any], as_manager: dict[str, str]
) -> None:
    assert client.get(screen["path"]).status_code == 200
    assert client.get(screen["path"] + "/live").status_code == 200  # now cached in the process
    gone = client.delete(f"/api/v1/screens/{screen['id']}", headers=as_manager)
    assert gone.status_code == 204
    assert client.get(screen["path"]).status_code == 404
    assert client.get(screen["path"] + "/live").status_code == 404
    again = client.delete(f"/api/v1/screens/{screen['id']}", headers=as_manager)
    assert again.status_code == 404


def test_others_cannot_revoke(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    as_other_org_admin: dict[str, str],
    learner: Any,
) -> None:
    from tests.conftest import auth_headers

    assert (
        client.delete(f"/api/v1/screens/{screen['id']}", headers=as_other_org_admin).status_code
        == 404
    )
    assert (
        client.delete(
            f"/api/v1/screens/{screen['id']}", headers=auth_headers(session, learner)
        ).status_code
        == 403
    )
    assert client.get(screen["path"]).status_code == 200


def test_the_link_is_no_credential_for_anything_else(
    client: FlaskClient, screen: dict[str, Any]
) -> None:
    token = screen["path"].rsplit("/", 1)[1]
    bearer = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/me", "/api/v1/screens", "/api/v1/leaderboards/users?scope=department"):
        assert client.get(path, headers=bearer).status_code == 401, path
    assert client.get(f"/api/v1/screens/{token}").status_code in (401, 404, 405)
