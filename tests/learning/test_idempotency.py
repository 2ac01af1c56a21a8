"""`Idempotency-Key`: a retried request replays the first answer and never pays twice."""

from __future__ import annotations

from sqlalchemy import select

from app.learning.models import Answer
from tests import factories


def test_a_retried_answer_replays_the_first_response(phone, module, version):
    attempt = phone.start(module.id).json
    question_id, choice_ids = next(iter(factories.correct_choices(version).items()))
    first = phone.answer(attempt["id"], question_id, choice_ids, **{"Idempotency-Key": "k-1"})
    retry = phone.answer(attempt["id"], question_id, choice_ids, **{"Idempotency-Key": "k-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json == first.json
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert phone.points_total() == 15


def test_the_same_key_with_another_body_is_422(phone, module, version):
    attempt = phone.start(module.id).json
    questions = list(factories.correct_choices(version).items())
    phone.answer(attempt["id"], *questions[0], **{"Idempotency-Key": "k-2"})
    other = phone.answer(attempt["id"], *questions[1], **{"Idempotency-Key": "k-2"})
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json["errors"]


def test_keys_are_scoped_to_the_endpoint(phone, module, version):
    first = phone.start(module.id, **{"Idempotency-Key": "same"})
    attempt = first.json
    question_id, choice_ids = next(iter(factories.correct_choices(version).items()))
    answered = phone.answer(attempt["id"], question_id, choice_ids, **{"Idempotency-Key": "same"})
    assert answered.status_code == 201
    assert "Idempotent-Replayed" not in answered.headers


def test_keys_are_scoped_to_the_user(client, session, colleague, phone, module):
    from tests.conftest import auth_headers

    mine = phone.start(module.id, **{"Idempotency-Key": "shared"})
    theirs = client.post(
        f"/api/v1/modules/{module.id}/attempts",
        headers={**auth_headers(session, colleague), "Idempotency-Key": "shared"},
    )
    assert theirs.status_code == 201
    assert theirs.json["id"] != mine.json["id"]


def test_a_retried_start_does_not_open_a_second_attempt(phone, module):
    first = phone.start(module.id, **{"Idempotency-Key": "start-1"})
    retry = phone.start(module.id, **{"Idempotency-Key": "start-1"})
    assert retry.json["id"] == first.json["id"]


def test_a_retried_complete_replays(phone, module):
    attempt = phone.start(module.id).json
    first = phone.complete(attempt["id"], **{"Idempotency-Key": "done"})
    retry = phone.complete(attempt["id"], **{"Idempotency-Key": "done"})
    assert retry.json == first.json


def test_an_overlong_key_is_422(phone, module):
    response = phone.start(module.id, **{"Idempotency-Key": "x" * 256})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]


def test_a_failed_request_is_not_remembered(phone, module, version):
    attempt = phone.start(module.id).json
    question_id, choice_ids = next(iter(factories.correct_choices(version).items()))
    bad = phone.answer(attempt["id"], question_id, ["not-a-choice"], **{"Idempotency-Key": "k-3"})
    assert bad.status_code == 422
    # The fixed request with a new key goes through; the failed one left nothing behind.
    good = phone.answer(attempt["id"], question_id, choice_ids, **{"Idempotency-Key": "k-4"})
    assert good.status_code == 201


def test_keys_expire_after_the_retention(phone, module, frozen_clock, app):
    first = phone.start(module.id, **{"Idempotency-Key": "old"})
    frozen_clock.advance(hours=app.config["IDEMPOTENCY_HOURS"] + 1)
    later = phone.start(module.id, **{"Idempotency-Key": "old"})
    assert later.status_code == 201
    assert later.json["id"] != first.json["id"]


def test_a_retried_answer_replays_after_the_attempt_was_completed(phone, module, version):
    attempt = phone.start(module.id).json
    question_id, choice_ids = next(iter(factories.correct_choices(version).items()))
    first = phone.answer(attempt["id"], question_id, choice_ids, **{"Idempotency-Key": "late"})
    assert phone.complete(attempt["id"]).status_code == 200
    retry = phone.answer(attempt["id"], question_id, choice_ids, **{"Idempotency-Key": "late"})
    assert retry.status_code == 201
    assert retry.json == first.json
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_a_key_reused_for_another_answer_records_and_pays_nothing(phone, session, module, version):
    attempt = phone.start(module.id).json
    questions = list(factories.correct_choices(version).items())
    phone.answer(attempt["id"], *questions[0], **{"Idempotency-Key": "k-5"})
    other = phone.answer(attempt["id"], *questions[1], **{"Idempotency-Key": "k-5"})
    assert other.status_code == 422
    answered = session.scalars(
        select(Answer.question_id).where(Answer.attempt_id == attempt["id"])
    ).all()
    assert answered == [questions[0][0]]
    assert phone.points_total() == 15


def test_an_answer_key_past_the_retention_may_be_used_again(
    phone, module, version, frozen_clock, app
):
    attempt = phone.start(module.id).json
    questions = list(factories.correct_choices(version).items())
    phone.answer(attempt["id"], *questions[0], **{"Idempotency-Key": "reused"})
    frozen_clock.advance(hours=app.config["IDEMPOTENCY_HOURS"] + 1)
    later = phone.answer(attempt["id"], *questions[1], **{"Idempotency-Key": "reused"})
    assert later.status_code == 201
    assert "Idempotent-Replayed" not in later.headers
    assert later.json["question_id"] == questions[1][0]
    retry = phone.answer(attempt["id"], *questions[1], **{"Idempotency-Key": "reused"})
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json == later.json
