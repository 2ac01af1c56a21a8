"""Checking a token costs no query once the login is cached, and every change to a login, a
user or an organisation is seen on the very next request — also when another process made it."""

from __future__ import annotations

import json

from sqlalchemy import event, update

from app import caching
from app.orgs.models import User
from tests.test_caching import eventually

ME = "/api/v1/me"
ADMIN_DEPARTMENTS = "/api/v1/admin/departments"


def statements_of(session, request):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return response, seen


def test_the_second_request_of_a_login_checks_the_token_without_a_query(
    client, session, as_learner
):
    assert client.get(ME, headers=as_learner).status_code == 200
    response, seen = statements_of(
        session,
        lambda: client.get("/api/v1/modules/01ZZZZZZZZZZZZZZZZZZZZZZZZ", headers=as_learner),
    )
    assert response.status_code == 404
    assert not any("login_sessions" in statement for statement in seen), seen


def test_a_role_given_by_an_admin_counts_on_the_next_request(client, learner, as_learner, as_admin):
    assert client.get(ADMIN_DEPARTMENTS, headers=as_learner).status_code == 403
    response = client.patch(
        f"/api/v1/admin/users/{learner.id}", json={"roles": ["admin"]}, headers=as_admin
    )
    assert response.status_code == 200, response.json
    assert client.get(ADMIN_DEPARTMENTS, headers=as_learner).status_code == 200


def test_a_changed_organisation_is_seen_on_the_next_request(
    client, session, org, module, as_learner
):
    url = f"/api/v1/modules/{module.id}"
    assert client.get(url, headers=as_learner).json["locale"] == "nb"
    org.default_locale = "en"  # the learner has no language of their own
    session.commit()
    assert client.get(url, headers=as_learner).json["locale"] == "en"


def test_a_change_made_by_another_process_is_seen_once_its_message_arrives(
    client, session, learner, as_learner, redis_client
):
    assert client.get(ADMIN_DEPARTMENTS, headers=as_learner).status_code == 403
    # Another process made the learner an admin (a bulk UPDATE: this process's ORM never
    # sees it, so only the message can tell)...
    session.execute(update(User).where(User.id == learner.id).values(roles=["admin"]))
    session.commit()
    assert client.get(ADMIN_DEPARTMENTS, headers=as_learner).status_code == 403  # cached
    # ...and published what it changed.
    redis_client.publish(
        caching.channel(redis_client),
        json.dumps({"cache": "auth.principals", "keys": [learner.id]}),
    )
    assert eventually(lambda: client.get(ADMIN_DEPARTMENTS, headers=as_learner).status_code == 200)
