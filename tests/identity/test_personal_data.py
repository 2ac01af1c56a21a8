"""`GET /me/export` gives everything stored about me; erasure keeps only anonymous numbers,
and every total and board is the same after it."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import LoginSession
from app.gamification.models import PointAward
from app.learning.models import Answer, Attempt
from app.notifications.models import Device, Notification
from app.orgs.models import User
from tests import factories
from tests.api.test_errors import assert_problem
from tests.conftest import auth_headers
from tests.gamification.play import play

ME_EXPORT = "/api/v1/me/export"


def register_device(client, headers, installation="phone-1", token="fcm-token-of-learner"):
    response = client.put(
        f"/api/v1/me/devices/{installation}",
        json={"token": token, "platform": "android"},
        headers=headers,
    )
    assert response.status_code in (200, 201), response.json


def nudge(client, user, headers, message="Husk kjølekjeden i dag, Learner!"):
    response = client.post(
        "/api/v1/nudges", json={"user_ids": [user.id], "message": message}, headers=headers
    )
    assert response.status_code == 202, response.json


def test_export_has_everything_about_me_and_nothing_secret(
    client, session, learner, colleague, module, manager, as_manager, frozen_clock
):
    headers = auth_headers(session, learner)
    play(client, session, module, headers, wrong=1)
    play(client, session, module, auth_headers(session, colleague))
    register_device(client, headers)
    nudge(client, learner, as_manager)
    client.patch(
        "/api/v1/me", json={"quiet_hours": {"start": "22:00", "end": "07:00"}}, headers=headers
    )

    response = client.get(ME_EXPORT, headers=headers)
    assert response.status_code == 200, response.json
    data = response.json
    assert data["profile"]["username"] == "learner"
    assert data["profile"]["department"]["name"] == "Kasse"
    assert data["preferences"]["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert [d["token"] for d in data["devices"]] == ["fcm-token-of-learner"]
    ledger_total = session.scalar(
        select(func.sum(PointAward.points)).where(PointAward.user_id == learner.id)
    )
    assert sum(row["points"] for row in data["points_ledger"]) == ledger_total > 0
    assert {row["user_id"] for row in data["points_ledger"]} == {learner.id}
    [attempt] = data["attempts"]
    assert len(attempt["answers"]) == 3
    assert sum(not a["correct"] for a in attempt["answers"]) == 1
    assert data["badges"], "the first module completed earns a badge"
    assert any("kjølekjeden" in n["body"] for n in data["notifications"])
    assert len(data["login_records"]) == 1
    assert data["exported_at"].startswith("2026-11-25T10:00:00")  # ISO 8601, like the API
    text = json.dumps(data)
    assert "argon2" not in text and "password_hash" not in text and "token_hash" not in text
    assert colleague.id not in text


def _snapshot(client, session, org, module, headers_admin, headers_editor):
    """What erasure must not change: the ledger, each board (ids, ranks and scores), the
    item analysis of the module and every department's insights (people by id)."""

    def board(path, **query):
        response = client.get(path, query_string=query, headers=headers_admin)
        assert response.status_code == 200, response.json
        return response.json

    users = [
        (e["rank"], e["user"]["id"], e["score"])
        for window in ("week", "month", "all_time")
        for e in board(
            "/api/v1/leaderboards/users", scope="organization", window=window, limit=100
        )["entries"]
    ]
    departments = [
        (e["rank"], e["department"]["id"], e["score"], e["members"])
        for metric in ("total", "per_member")
        for e in board("/api/v1/leaderboards/departments", metric=metric, limit=100)["entries"]
    ]
    stats = client.get(f"/api/v1/editor/modules/{module.id}/stats", headers=headers_editor).json
    ledger = session.execute(
        select(func.count(), func.sum(PointAward.points)).where(PointAward.org_id == org.id)
    ).one()
    answers = session.scalar(
        select(func.count()).select_from(Answer).join(Attempt).where(Attempt.org_id == org.id)
    )
    insights = {}
    tree = board("/api/v1/insights/departments")["items"]
    insights["tree"] = tree
    for department in tree:
        base = f"/api/v1/insights/departments/{department['id']}"
        insights[department["id"]] = {
            "summary": board(base, week="2026-W48"),
            "members": [
                {k: v for k, v in row.items() if k != "user"} | {"user": row["user"]["id"]}
                for row in board(f"{base}/members", week="2026-W48")["items"]
            ],
            "children": board(f"{base}/children", week="2026-W48"),
            "trend": board(f"{base}/trend", weeks=4),
            "questions": board(f"{base}/questions", weeks=4),
        }
    return {
        "insights": insights,
        "ledger": tuple(ledger),
        "answers": answers,
        "users": users,
        "departments": departments,
        "stats": stats,
    }


def test_erasure_keeps_every_total_and_board_and_removes_the_person(
    client,
    session,
    org,
    module,
    learner,
    colleague,
    warehouse,
    manager,
    admin,
    editor,
    as_admin,
    as_editor,
    as_manager,
    frozen_clock,
):
    picker = factories.make_user(session, org, "picker", department=warehouse)
    learner_headers = auth_headers(session, learner)
    play(client, session, module, learner_headers)
    frozen_clock.advance(hours=1)
    play(client, session, module, auth_headers(session, colleague), wrong=1)
    play(client, session, module, auth_headers(session, picker), wrong=2)
    register_device(client, learner_headers)
    nudge(client, learner, as_manager)
    # The person left: deactivated first (the boards' member counts count active people).
    assert (
        client.patch(
            f"/api/v1/admin/users/{learner.id}", json={"active": False}, headers=as_admin
        ).status_code
        == 200
    )
    before = _snapshot(client, session, org, module, as_admin, as_editor)
    assert before["ledger"][1] > 0 and before["users"] and before["departments"]
    summaries = [v["summary"] for k, v in before["insights"].items() if k != "tree"]
    assert any(summary["points"] > 0 for summary in summaries)
    assert any(v["members"] for k, v in before["insights"].items() if k != "tree")

    response = client.post(f"/api/v1/admin/users/{learner.id}/erase", headers=as_admin)
    assert response.status_code == 202, response.json
    assert response.json["id"] == learner.id and response.json["erased_at"]

    assert _snapshot(client, session, org, module, as_admin, as_editor) == before
    session.expire_all()
    erased = session.get(User, learner.id)
    assert erased.username != "learner" and "learner" not in erased.username.lower()
    assert erased.display_name == "Former colleague"
    assert erased.active is False and erased.erased_at is not None
    assert (
        session.scalar(select(func.count()).select_from(Device).where(Device.user_id == learner.id))
        == 0
    )
    assert (
        session.scalar(
            select(func.count()).select_from(LoginSession).where(LoginSession.user_id == learner.id)
        )
        == 0
    )
    texts = session.execute(
        select(Notification.title, Notification.body).where(Notification.user_id == learner.id)
    ).all()
    assert texts and all(title == "" and body == "" for title, body in texts)
    # The board shows the placeholder under the same id, with the same score.
    entries = client.get(
        "/api/v1/leaderboards/users",
        query_string={"scope": "organization", "window": "all_time"},
        headers=as_admin,
    ).json["entries"]
    names = {e["user"]["id"]: e["user"]["display_name"] for e in entries if e["user"]["id"]}
    assert names[learner.id] == "Former colleague"
    # Recorded, without the erased data.
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.erase")).all()
    assert (event.actor_id, event.target, event.org_id) == (admin.id, learner.id, org.id)
    assert "learner" not in json.dumps(event.details).lower()
    # Nobody can sign in as the placeholder or with its old tokens.
    assert client.get("/api/v1/me", headers=learner_headers).status_code == 401
    login = client.post(
        "/api/v1/auth/login",
        json={"organization": "acme", "username": "learner", "password": factories.PASSWORD},
    )
    assert_problem(login, 401)


def test_erasure_of_an_active_person_ends_their_access_at_once(
    client, session, learner, as_learner, as_admin
):
    assert client.get("/api/v1/me", headers=as_learner).status_code == 200  # cached login
    assert (
        client.post(f"/api/v1/admin/users/{learner.id}/erase", headers=as_admin).status_code == 202
    )
    assert_problem(client.get("/api/v1/me", headers=as_learner), 401)
    listed = client.get("/api/v1/admin/users", query_string={"active": "false"}, headers=as_admin)
    [item] = listed.json["items"]
    assert item["id"] == learner.id and item["erased_at"] is not None


def test_erasure_refusals(
    client, session, learner, other_org_admin, as_admin, as_learner, as_manager
):
    assert_problem(client.post(f"/api/v1/admin/users/{learner.id}/erase", headers=as_learner), 403)
    assert_problem(client.post(f"/api/v1/admin/users/{learner.id}/erase", headers=as_manager), 403)
    assert_problem(
        client.post(f"/api/v1/admin/users/{other_org_admin.id}/erase", headers=as_admin), 404
    )
    assert_problem(client.post("/api/v1/admin/users/nope/erase", headers=as_admin), 404)
    session.expire_all()
    assert session.get(User, other_org_admin.id).username == "admin"
