"""xAPI statements reach a real LRS (Ralph): what it stored is read back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app import clock
from app.interop import encryption, statements
from app.interop.models import XapiIntegration
from app.outbox import jobs
from app.outbox import service as outbox
from app.outbox.models import OutboxMessage
from tests import factories
from tests.conftest import auth_headers
from tests.interop.conftest import LRS_PASSWORD, LRS_USER, Ralph

ADL = "http://adlnet.gov/expapi/verbs/"
# attempted, each answer, completed, passed, then the badges: first module, perfect score
PERFECT_JOURNEY = [
    "attempted",
    "answered",
    "answered",
    "answered",
    "completed",
    "passed",
    "earned",
    "earned",
]


def connect(client: Any, headers: dict[str, str], lrs: Ralph, **changes: Any) -> Any:
    body = {"endpoint": lrs.endpoint, "username": LRS_USER, "password": LRS_PASSWORD}
    return client.put("/api/v1/admin/integrations/xapi", json={**body, **changes}, headers=headers)


def deliver() -> int:
    return jobs.deliver_due("xapi")


def verbs(stored: list[dict[str, Any]]) -> list[str]:
    return [s["verb"]["id"].rsplit("/", 1)[1] for s in stored]


@pytest.fixture
def connected(client: Any, session: Any, as_admin: Any, lrs: Ralph) -> Ralph:
    answer = connect(client, as_admin, lrs)
    assert answer.status_code == 200, answer.json
    return lrs


def take_module(client: Any, headers: dict[str, str], module: Any, choices: dict[str, Any]) -> Any:
    attempt = client.post(f"/api/v1/modules/{module.id}/attempts", headers=headers).json
    for question_id, choice_ids in choices.items():
        answer = client.post(
            f"/api/v1/attempts/{attempt['id']}/answers",
            json={"question_id": question_id, "choice_ids": choice_ids},
            headers=headers,
        )
        assert answer.status_code == 201, answer.json
    done = client.post(f"/api/v1/attempts/{attempt['id']}/complete", headers=headers)
    assert done.status_code == 200
    return attempt


def test_a_learners_journey_arrives_once_in_order_with_verbs_and_results(
    client: Any,
    session: Any,
    connected: Ralph,
    learner: Any,
    as_learner: Any,
    module: Any,
    app: Any,
) -> None:
    version = factories.current_version(session, module)
    choices = factories.correct_choices(version)
    wrong_question = next(iter(choices))
    choices[wrong_question] = factories.wrong_choice(version, wrong_question)
    attempt = take_module(client, as_learner, module, choices)
    session.commit()

    result = app.test_cli_runner().invoke(args=["worker", "--burst", "--no-cron"])
    assert result.exit_code == 0, result.output
    deliver()  # a second run sends nothing again

    stored = connected.stored_for(learner.id)
    assert verbs(stored) == [
        "attempted",
        "answered",
        "answered",
        "answered",
        "completed",
        "failed",
        "earned",
    ]
    assert len({s["id"] for s in stored}) == len(stored)  # each exactly once
    registration = statements.registration(attempt["id"])
    assert {s["context"].get("registration") for s in stored[:6]} == {registration}
    assert uuid.UUID(registration).version == 5
    base = app.config["PUBLIC_BASE_URL"]
    assert stored[0]["object"]["id"] == f"{base}/xapi/acme/modules/{module.id}"
    for statement in stored:
        assert statement["actor"] == {
            "objectType": "Agent",
            "account": {"homePage": f"{base}/orgs/acme", "name": learner.id},
        }
        assert learner.username not in str(statement) and learner.display_name not in str(statement)
        extensions = statement["context"]["extensions"]
        assert extensions[f"{base}/xapi/extensions/organization"]["slug"] == "acme"
        assert extensions[f"{base}/xapi/extensions/department"] == {"id": learner.department_id}
    answered = stored[1:4]
    for statement, (question_id, given) in zip(answered, choices.items(), strict=True):
        definition = statement["object"]["definition"]
        assert statement["object"]["id"].endswith(f"/questions/{question_id}")
        assert definition["interactionType"] == "choice"
        correct = factories.correct_choices(version)[question_id]
        assert definition["correctResponsesPattern"] == ["[,]".join(correct)]
        assert statement["result"] == {
            "response": "[,]".join(given),
            "success": question_id != wrong_question,
        }
        assert (
            statement["context"]["contextActivities"]["parent"][0]["id"]
            == stored[0]["object"]["id"]
        )
    completed, failed = stored[4], stored[5]
    assert completed["result"]["completion"] is True
    assert failed["result"]["success"] is False
    assert failed["result"]["score"] == {"scaled": round(2 / 3, 4), "raw": 2, "min": 0, "max": 3}
    assert failed["result"]["duration"].startswith("PT")
    assert stored[6]["object"]["id"] == f"{base}/xapi/acme/badges/first_module"

    status = client.get(
        "/api/v1/admin/integrations/xapi",
        headers=auth_headers(
            session, factories.make_user(session, learner.organization, "admin2", roles=["admin"])
        ),
    ).json
    assert (status["pending"], status["delivered"], status["failed"]) == (0, 7, 0)
    assert status["last_delivered_at"] is not None
    assert "password" not in status


def test_the_weekly_path_is_the_parent_of_module_statements(
    client: Any,
    session: Any,
    connected: Ralph,
    learner: Any,
    as_learner: Any,
    module: Any,
    editor: Any,
    as_editor: Any,
    app: Any,
) -> None:
    week = clock.now().strftime("%G-W%V")
    path = client.post(
        "/api/v1/editor/paths",
        json={
            "week": week,
            "title": "Uke med kjøl",
            "modules": [{"module_id": module.id, "mandatory": True}],
        },
        headers=as_editor,
    )
    assert path.status_code == 201, path.json
    version = factories.current_version(session, module)
    take_module(client, as_learner, module, factories.correct_choices(version))
    session.commit()
    deliver()

    stored = connected.stored_for(learner.id)
    assert verbs(stored)[:6] == PERFECT_JOURNEY[:6]
    path_iri = f"{app.config['PUBLIC_BASE_URL']}/xapi/acme/paths/{path.json['id']}"
    for statement in stored:
        if statement["verb"]["id"] in (ADL + "attempted", ADL + "completed", ADL + "passed"):
            assert statement["context"]["contextActivities"]["parent"][0]["id"] == path_iri


def test_offline_work_keeps_its_own_times(
    client: Any,
    session: Any,
    connected: Ralph,
    learner: Any,
    as_learner: Any,
    module: Any,
    frozen_clock: Any,
) -> None:
    version = factories.current_version(session, module)
    frozen_clock.advance(hours=4)  # synced well after the work was done (and published)
    started = clock.now() - timedelta(hours=3)
    answers = [
        {
            "question_id": question_id,
            "choice_ids": choice_ids,
            "answered_at": (started + timedelta(minutes=i + 1)).isoformat(),
        }
        for i, (question_id, choice_ids) in enumerate(factories.correct_choices(version).items())
    ]
    completed = started + timedelta(minutes=5)
    synced = client.post(
        "/api/v1/sync",
        json={
            "events": [
                {
                    "client_id": str(uuid.uuid4()),
                    "type": "attempt",
                    "module_id": module.id,
                    "module_version": version.version,
                    "started_at": started.isoformat(),
                    "completed_at": completed.isoformat(),
                    "answers": answers,
                }
            ]
        },
        headers=as_learner,
    )
    assert synced.json["results"][0]["status"] == "applied", synced.json
    session.commit()
    deliver()

    stored = connected.stored_for(learner.id)
    assert verbs(stored)[:6] == [
        "attempted",
        "answered",
        "answered",
        "answered",
        "completed",
        "passed",
    ]
    times = [s["timestamp"] for s in stored[:6]]
    expected = [started] + [started + timedelta(minutes=i) for i in (1, 2, 3)] + [completed] * 2
    assert [t[:19] for t in times] == [e.isoformat()[:19] for e in expected]
    assert stored[5]["result"]["duration"] == "PT5M0S"


def test_lrs_down_then_back_gets_everything_in_order(
    client: Any,
    session: Any,
    connected: Ralph,
    learner: Any,
    as_learner: Any,
    module: Any,
    frozen_clock: Any,
) -> None:
    version = factories.current_version(session, module)
    connected.stop()
    take_module(client, as_learner, module, factories.correct_choices(version))
    session.commit()
    assert deliver() == 0
    waiting = outbox.counters(session, channel="xapi", org_id=learner.org_id)
    assert waiting.pending == 8 and waiting.delivered == 0
    assert waiting.last_error is not None and "ConnectionError" in waiting.last_error

    frozen_clock.advance(hours=20)  # a long outage: more retries, nothing dropped
    assert deliver() == 0
    connected.start()
    frozen_clock.advance(hours=1)
    assert deliver() == 8

    assert verbs(connected.stored_for(learner.id)) == PERFECT_JOURNEY


def test_a_rejected_statement_is_parked_and_does_not_block_the_rest(
    client: Any,
    session: Any,
    connected: Ralph,
    learner: Any,
    as_learner: Any,
    module: Any,
    as_admin: Any,
) -> None:
    # No verb: an LRS must refuse it (and Ralph does, with a 4xx).
    bad = {
        "id": str(uuid.uuid4()),
        "actor": {"account": {"homePage": "https://example.org", "name": learner.id}},
        "object": {"id": "https://example.org/activity"},
    }
    outbox.add(
        session,
        channel="xapi",
        messages=[outbox.NewMessage(learner.org_id, learner.id, bad)],
        now=clock.now(),
    )
    version = factories.current_version(session, module)
    take_module(client, as_learner, module, factories.correct_choices(version))
    session.commit()

    deliver()

    assert verbs(connected.stored_for(learner.id)) == PERFECT_JOURNEY
    status = client.get("/api/v1/admin/integrations/xapi", headers=as_admin).json
    assert (status["pending"], status["delivered"], status["failed"]) == (0, 8, 1)
    assert status["failed_statements"][0]["statement_id"] == bad["id"]
    assert status["failed_statements"][0]["error"].startswith(("400", "422"))


def test_an_organisation_without_an_lrs_writes_nothing(
    client: Any, session: Any, learner: Any, as_learner: Any, module: Any
) -> None:
    version = factories.current_version(session, module)
    take_module(client, as_learner, module, factories.correct_choices(version))
    session.commit()
    assert session.scalars(select(OutboxMessage)).all() == []


def test_connection_test_and_what_the_lrs_said(
    client: Any, session: Any, lrs: Ralph, as_admin: Any
) -> None:
    assert connect(client, as_admin, lrs).status_code == 200
    ok = client.post("/api/v1/admin/integrations/xapi/test", headers=as_admin)
    assert ok.status_code == 200 and ok.json == {"ok": True, "lrs_status": 200}

    assert connect(client, as_admin, lrs, password="wrong").status_code == 200
    refused = client.post("/api/v1/admin/integrations/xapi/test", headers=as_admin)
    assert refused.status_code == 502
    assert refused.mimetype == "application/problem+json"
    assert refused.json["lrs_status"] == 401
    assert "401" in refused.json["detail"]


def test_the_password_is_encrypted_never_returned_and_http_needs_a_setting(
    client: Any,
    session: Any,
    lrs: Ralph,
    as_admin: Any,
    admin: Any,
    app: Any,
    monkeypatch: Any,
    caplog: Any,
) -> None:
    answer = connect(client, as_admin, lrs)
    assert answer.json == {"endpoint": lrs.endpoint, "username": LRS_USER, "enabled": True}
    stored = session.get(XapiIntegration, admin.org_id)
    assert LRS_PASSWORD not in stored.password_encrypted
    assert encryption.decrypt(stored.password_encrypted) == LRS_PASSWORD
    shown = client.get("/api/v1/admin/integrations/xapi", headers=as_admin)
    assert LRS_PASSWORD not in shown.get_data(as_text=True)
    assert LRS_PASSWORD not in caplog.text

    kept = connect(client, as_admin, lrs, password=None, username="other")
    # Omitting the password keeps the stored one.
    assert (
        kept.status_code == 422
        or encryption.decrypt(session.get(XapiIntegration, admin.org_id).password_encrypted)
        == LRS_PASSWORD
    )

    monkeypatch.setitem(app.config, "XAPI_ALLOW_HTTP", False)
    refused = connect(client, as_admin, lrs)
    assert refused.status_code == 422
    assert "endpoint" in refused.json["errors"]
    assert (
        connect(client, as_admin, lrs, endpoint="https://lrs.example.org/xapi").status_code == 200
    )


def test_only_admins_of_the_organisation(
    client: Any, session: Any, lrs: Ralph, as_learner: Any, as_other_org_admin: Any, as_admin: Any
) -> None:
    assert connect(client, as_learner, lrs).status_code == 403
    assert connect(client, as_admin, lrs).status_code == 200
    other = client.get("/api/v1/admin/integrations/xapi", headers=as_other_org_admin).json
    assert other["endpoint"] is None and other["enabled"] is False
    bad = client.put(
        "/api/v1/admin/integrations/xapi",
        json={"endpoint": "ftp://x", "username": "", "password": "p"},
        headers=as_admin,
    )
    assert bad.status_code == 422
