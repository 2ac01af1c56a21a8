"""Offline attempts uploaded with POST /sync."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests import factories


def offline_event(version, *, completed_at, correct=True, client_id=None, **changes):
    keys = factories.correct_choices(version)
    answers = [
        {
            "question_id": question_id,
            "choice_ids": choice_ids if correct else factories.wrong_choice(version, question_id),
            "answered_at": completed_at.isoformat(),
        }
        for question_id, choice_ids in keys.items()
    ]
    event = {
        "client_id": client_id or str(uuid.uuid4()),
        "type": "attempt",
        "module_id": version.module_id,
        "module_version": version.version,
        "started_at": (completed_at - timedelta(minutes=3)).isoformat(),
        "completed_at": completed_at.isoformat(),
        "answers": answers,
    }
    event.update(changes)
    return event


def test_an_offline_attempt_is_applied_once(phone, version, frozen_clock):
    event = offline_event(version, completed_at=frozen_clock() - timedelta(hours=2))
    first = phone.sync([event])
    assert first.status_code == 200
    [result] = first.json["results"]
    assert result["status"] == "applied"
    assert result["points_awarded"] == 80
    assert result["attempt_id"]

    replay = phone.sync([event])
    [again] = replay.json["results"]
    assert again["status"] == "duplicate"
    assert again["points_awarded"] == 0
    assert again["attempt_id"] == result["attempt_id"]
    assert phone.points_total() == 80


def test_a_bad_event_is_rejected_and_does_not_stop_the_others(phone, version, frozen_clock):
    when = frozen_clock() - timedelta(hours=1)
    good = offline_event(version, completed_at=when)
    unknown_module = offline_event(
        version, completed_at=when, module_id="01NOSUCHMODULE000000000000"
    )
    unknown_version = offline_event(version, completed_at=when, module_version=9)
    foreign_question = offline_event(version, completed_at=when)
    foreign_question["answers"][0]["question_id"] = "01NOSUCHQUESTION0000000000"
    malformed = {"client_id": "not-a-uuid", "type": "attempt"}
    response = phone.sync([unknown_module, good, unknown_version, foreign_question, malformed])
    assert response.status_code == 200
    statuses = [(r["status"], r.get("reason")) for r in response.json["results"]]
    assert [s for s, _ in statuses] == ["rejected", "applied", "rejected", "rejected", "rejected"]
    assert statuses[0][1] == "unknown_module"
    assert statuses[2][1] == "unknown_module_version"
    assert "question_id" in statuses[3][1]
    assert statuses[4][1]
    assert phone.points_total() == 80


def test_offline_work_counts_on_the_day_it_was_done(phone, client, version, frozen_clock):
    frozen_clock.advance(days=2)  # the module was published before the phone went offline
    yesterday = frozen_clock() - timedelta(days=1)
    phone.sync([offline_event(version, completed_at=yesterday)])
    points = client.get("/api/v1/me/points", headers=phone.headers).json["items"]
    assert {item["created_at"][:10] for item in points} == {yesterday.date().isoformat()}


def test_an_implausible_time_is_counted_at_upload(phone, client, version, frozen_clock):
    future = frozen_clock() + timedelta(days=3)
    [result] = phone.sync([offline_event(version, completed_at=future)]).json["results"]
    assert result["status"] == "applied"
    before_publishing = version.published_at - timedelta(days=30)
    [older] = phone.sync([offline_event(version, completed_at=before_publishing)]).json["results"]
    assert older["status"] == "applied"
    points = client.get("/api/v1/me/points", headers=phone.headers).json["items"]
    assert {item["created_at"][:10] for item in points} == {frozen_clock().date().isoformat()}


def test_the_batch_is_limited_to_100_events(phone, version, frozen_clock):
    events = [offline_event(version, completed_at=frozen_clock()) for _ in range(101)]
    response = phone.sync(events)
    assert response.status_code == 422
    assert "events" in response.json["errors"]


def test_a_replayed_batch_with_an_idempotency_key_replays(phone, version, frozen_clock):
    events = [offline_event(version, completed_at=frozen_clock() - timedelta(minutes=10))]
    first = phone.sync(events, **{"Idempotency-Key": "batch-1"})
    retry = phone.sync(events, **{"Idempotency-Key": "batch-1"})
    assert retry.json == first.json
    assert phone.points_total() == 80


def test_another_organisations_module_is_rejected(client, session, other_org, phone, frozen_clock):
    theirs = factories.publish_module(session, other_org, factories.module_document())
    version = factories.current_version(session, theirs)
    [result] = phone.sync([offline_event(version, completed_at=frozen_clock())]).json["results"]
    assert result == {
        "client_id": result["client_id"],
        "status": "rejected",
        "reason": "unknown_module",
        "errors": {"module_id": ["No published module with this id in your organisation."]},
        "points_awarded": 0,
        "attempt_id": None,
    }


def test_a_rejected_event_has_errors_by_field_path_and_a_readable_reason(phone, version):
    malformed = {"client_id": "not-a-uuid", "type": "attempt", "answers": [{"choice_ids": []}]}
    [result] = phone.sync([malformed]).json["results"]
    assert result["status"] == "rejected"
    errors = result["errors"]
    assert errors["client_id"] == ["Not a valid UUID."]
    assert errors["module_id"] == ["Missing data for required field."]
    assert "answers[0].question_id" in errors and "answers[0].choice_ids" in errors
    assert "{" not in result["reason"] and "[" not in result["reason"].split(":")[0]
    assert result["reason"].startswith("client_id: Not a valid UUID.")


def test_an_unknown_event_type_is_rejected_with_the_known_types(phone):
    for kind in ("lesson", ["attempt"], None):
        event = {"client_id": str(uuid.uuid4()), "type": kind}
        [result] = phone.sync([event]).json["results"]
        assert result["status"] == "rejected"
        assert result["errors"] == {"type": ["Must be one of: attempt."]}


def test_every_bad_answer_of_an_event_is_reported(phone, version, frozen_clock):
    event = offline_event(version, completed_at=frozen_clock() - timedelta(minutes=5))
    event["answers"][0]["question_id"] = "01NOSUCHQUESTION0000000000"
    event["answers"][1]["choice_ids"] = ["01NOSUCHCHOICE000000000000"]
    event["answers"].append(dict(event["answers"][2]))
    [result] = phone.sync([event]).json["results"]
    assert result["status"] == "rejected"
    assert set(result["errors"]) == {
        "answers[0].question_id",
        "answers[1].choice_ids",
        "answers[3].question_id",
    }
    assert "answers[1].choice_ids" in result["reason"]


def test_the_openapi_document_describes_each_event_type(client):
    spec = client.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    items = schemas["SyncIn"]["properties"]["events"]["items"]
    assert items["oneOf"] == [{"$ref": "#/components/schemas/OfflineAttemptEvent"}]
    assert items["discriminator"] == {
        "propertyName": "type",
        "mapping": {"attempt": "#/components/schemas/OfflineAttemptEvent"},
    }
    attempt = schemas["OfflineAttemptEvent"]
    assert attempt["properties"]["type"]["enum"] == ["attempt"]
    assert {"client_id", "type", "module_id", "module_version", "completed_at", "answers"} <= set(
        attempt["required"]
    )
    assert attempt["properties"]["answers"]["items"] == {
        "$ref": "#/components/schemas/OfflineAnswer"
    }
    result = schemas["SyncResult"]["properties"]
    assert result["errors"]["additionalProperties"]["type"] == "array"
