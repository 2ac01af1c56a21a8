"""Devices, preferences and the inbox through HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app import clock
from app.notifications import jobs, service
from app.notifications.models import Device, Notification
from tests.conftest import auth_headers

PHONE = {"token": "fcm-token-1", "platform": "android", "app_version": "1.4.0"}


def devices(session: Any) -> list[tuple[str, str, str]]:
    rows = session.scalars(select(Device).order_by(Device.token))
    return [(d.user_id, d.installation_id, d.token) for d in rows]


def test_register_is_201_when_new_then_200(
    client: Any, session: Any, learner: Any, as_learner: dict[str, str]
) -> None:
    first = client.put("/api/v1/me/devices/install-a", json=PHONE, headers=as_learner)
    assert first.status_code == 201, first.json
    assert first.json["installation_id"] == "install-a"
    assert first.json["platform"] == "android"
    assert "token" not in first.json  # never echoed

    again = client.put(
        "/api/v1/me/devices/install-a",
        json={**PHONE, "token": "fcm-token-2", "app_version": "1.5.0"},
        headers=as_learner,
    )
    assert again.status_code == 200, again.json
    assert again.json["app_version"] == "1.5.0"
    assert devices(session) == [(learner.id, "install-a", "fcm-token-2")]


def test_several_devices_per_user_and_a_token_moves_to_the_newest_install(
    client: Any, session: Any, learner: Any, colleague: Any, as_learner: dict[str, str]
) -> None:
    client.put("/api/v1/me/devices/phone", json=PHONE, headers=as_learner)
    client.put(
        "/api/v1/me/devices/tablet",
        json={"token": "fcm-tablet", "platform": "ios"},
        headers=as_learner,
    )
    assert len(devices(session)) == 2

    # The same token shows up from another install of mine (the app was reinstalled).
    moved = client.put("/api/v1/me/devices/reinstalled", json=PHONE, headers=as_learner)
    assert moved.status_code == 201
    assert devices(session) == [
        (learner.id, "tablet", "fcm-tablet"),
        (learner.id, "reinstalled", "fcm-token-1"),
    ]

    # A shared store phone: the same installation, signed in as a colleague, takes it over.
    shared = client.put(
        "/api/v1/me/devices/reinstalled", json=PHONE, headers=auth_headers(session, colleague)
    )
    assert shared.status_code == 201
    assert devices(session) == [
        (learner.id, "tablet", "fcm-tablet"),
        (colleague.id, "reinstalled", "fcm-token-1"),
    ]


def test_delete_device_is_204(client: Any, session: Any, as_learner: dict[str, str]) -> None:
    client.put("/api/v1/me/devices/install-a", json=PHONE, headers=as_learner)

    gone = client.delete("/api/v1/me/devices/install-a", headers=as_learner)

    assert gone.status_code == 204
    assert devices(session) == []
    assert client.delete("/api/v1/me/devices/install-a", headers=as_learner).status_code == 204


def test_device_validation_and_auth(client: Any, as_learner: dict[str, str]) -> None:
    bad = client.put(
        "/api/v1/me/devices/x", json={"token": "", "platform": "symbian"}, headers=as_learner
    )
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"token", "platform"}
    assert client.put("/api/v1/me/devices/x", json=PHONE).status_code == 401


def test_unused_devices_are_pruned(session: Any, learner: Any, frozen_clock: Any) -> None:
    now = clock.now()
    for installation, seen in (("old", now - timedelta(days=91)), ("fresh", now)):
        service.register_device(
            session,
            user=learner,
            installation_id=installation,
            token=f"tok-{installation}",
            platform="android",
            app_version=None,
            now=seen,
        )
    session.commit()

    assert jobs.prune_devices() == 1
    assert jobs.prune_devices() == 0  # safe to run twice
    assert [d[1] for d in devices(session)] == ["fresh"]


def test_preferences_show_types_language_quiet_hours_and_cap(
    client: Any, org: Any, learner: Any, as_learner: dict[str, str]
) -> None:
    client.patch(
        "/api/v1/me",
        json={"locale": "en", "quiet_hours": {"start": "23:00", "end": "06:30"}},
        headers=as_learner,
    )
    got = client.get("/api/v1/me/notification-preferences", headers=as_learner)

    assert got.status_code == 200
    assert got.json["locale"] == "en"
    assert got.json["quiet_hours"] == {"start": "23:00", "end": "06:30"}
    assert got.json["daily_cap"] == 3
    assert {t["type"] for t in got.json["types"]} == {
        "path_start",
        "streak_at_risk",
        "due_reminder",
        "competition_end",
        "nudge",
        "requirement_reminder",
        "mandatory_overdue",
        "manager_digest",
    }
    assert all(t["enabled"] for t in got.json["types"])

    bad = client.patch(
        "/api/v1/me/notification-preferences",
        json={"types": {"spam": False}},
        headers=as_learner,
    )
    assert bad.status_code == 422


def test_inbox_is_newest_first_paged_filterable_and_private(
    client: Any, session: Any, learner: Any, colleague: Any, frozen_clock: Any
) -> None:
    for n in range(3):
        service.notify(
            session,
            user_ids=[learner.id],
            type="nudge",
            now=clock.now(),
            data={"module_id": "M1"},
            params={"sender": "Mona", "message": f"m{n}"},
        )
        frozen_clock.advance(seconds=1)
    session.commit()
    headers = auth_headers(session, learner)

    page = client.get("/api/v1/me/notifications?limit=2", headers=headers)
    assert page.status_code == 200
    assert [i["body"] for i in page.json["items"]] == ["m2", "m1"]
    item = page.json["items"][0]
    assert set(item) == {"id", "type", "title", "body", "data", "created_at", "read_at"}
    assert item["data"] == {"module_id": "M1"}
    assert item["title"] == "Hilsen fra Mona"
    rest = client.get(
        f"/api/v1/me/notifications?limit=2&cursor={page.json['next_cursor']}", headers=headers
    )
    assert [i["body"] for i in rest.json["items"]] == ["m0"]
    assert rest.json["next_cursor"] is None

    read = client.post(f"/api/v1/me/notifications/{item['id']}/read", headers=headers)
    assert read.status_code == 204
    unread = client.get("/api/v1/me/notifications?unread=true", headers=headers)
    assert [i["body"] for i in unread.json["items"]] == ["m1", "m0"]
    everything = client.get("/api/v1/me/notifications", headers=headers)
    assert everything.json["items"][0]["read_at"] is not None

    theirs = auth_headers(session, colleague)
    assert client.get("/api/v1/me/notifications", headers=theirs).json["items"] == []
    other = client.post(f"/api/v1/me/notifications/{item['id']}/read", headers=theirs)
    assert other.status_code == 404
    assert other.content_type == "application/problem+json"


def test_inbox_uses_the_users_language(
    client: Any, session: Any, learner: Any, frozen_clock: Any
) -> None:
    learner.locale = "en"
    service.notify(
        session,
        user_ids=[learner.id],
        type="competition_end",
        now=clock.now(),
        data={"competition_id": "C1"},
        params={"title": "Julekampen"},
    )
    session.commit()

    items = client.get("/api/v1/me/notifications", headers=auth_headers(session, learner)).json[
        "items"
    ]

    assert items[0]["title"] == "The competition is over"
    assert items[0]["body"] == "“Julekampen” has ended. See how it went!"
    row = session.scalars(select(Notification)).one()
    assert service.push_data(row)["deep_link"] == "nanolearn://competitions/C1"


def test_installation_id_too_long_is_422(client: Any, as_learner: dict[str, str]) -> None:
    answer = client.put(f"/api/v1/me/devices/{'x' * 129}", json=PHONE, headers=as_learner)

    assert answer.status_code == 422
    assert "installation_id" in answer.json["errors"]
