"""Registering a device never takes another person's pushes: installation ids and tokens
are scoped to the user and the organisation (see register_device)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.notifications.models import Device
from tests import factories
from tests.api.test_errors import assert_problem
from tests.conftest import auth_headers

PHONE = {"token": "fcm-victim", "platform": "android"}


def devices(session: Any) -> set[tuple[str, str, str]]:
    return {(d.user_id, d.installation_id, d.token) for d in session.scalars(select(Device))}


def test_another_users_installation_id_is_never_deleted(client, session, learner, colleague):
    client.put(
        "/api/v1/me/devices/victim-install", json=PHONE, headers=auth_headers(session, learner)
    )

    response = client.put(
        "/api/v1/me/devices/victim-install",
        json={"token": "fcm-attacker", "platform": "android"},
        headers=auth_headers(session, colleague),
    )

    assert response.status_code == 201, response.get_json()
    assert devices(session) == {
        (learner.id, "victim-install", "fcm-victim"),
        (colleague.id, "victim-install", "fcm-attacker"),
    }


def test_another_users_token_on_another_install_is_409_and_theirs_stays(
    client, session, learner, colleague
):
    client.put(
        "/api/v1/me/devices/victim-install", json=PHONE, headers=auth_headers(session, learner)
    )

    response = client.put(
        "/api/v1/me/devices/attacker-install", json=PHONE, headers=auth_headers(session, colleague)
    )

    assert list(assert_problem(response, 409)["errors"]) == ["token"]
    assert devices(session) == {(learner.id, "victim-install", "fcm-victim")}


def test_a_moved_token_leaves_only_the_same_users_old_install(client, session, learner, colleague):
    mine = auth_headers(session, learner)
    client.put("/api/v1/me/devices/old-install", json=PHONE, headers=mine)
    client.put(
        "/api/v1/me/devices/colleague-phone",
        json={"token": "fcm-colleague", "platform": "ios"},
        headers=auth_headers(session, colleague),
    )

    assert client.put("/api/v1/me/devices/new-install", json=PHONE, headers=mine).status_code == 201

    assert devices(session) == {
        (learner.id, "new-install", "fcm-victim"),
        (colleague.id, "colleague-phone", "fcm-colleague"),
    }


def test_another_organisations_devices_are_never_touched(client, session, learner, other_org_admin):
    client.put("/api/v1/me/devices/install", json=PHONE, headers=auth_headers(session, learner))

    # The same phone serving someone's login in another organisation (or a forged copy).
    response = client.put(
        "/api/v1/me/devices/install", json=PHONE, headers=auth_headers(session, other_org_admin)
    )

    assert response.status_code == 201, response.get_json()
    assert devices(session) == {
        (learner.id, "install", "fcm-victim"),
        (other_org_admin.id, "install", "fcm-victim"),
    }


def test_a_token_of_another_organisation_does_not_block_mine(client, session, learner, other_org):
    stranger = factories.make_user(session, other_org, "stranger")
    client.put("/api/v1/me/devices/a", json=PHONE, headers=auth_headers(session, stranger))

    response = client.put(
        "/api/v1/me/devices/b", json=PHONE, headers=auth_headers(session, learner)
    )

    assert response.status_code == 201, response.get_json()
    assert len(devices(session)) == 2
