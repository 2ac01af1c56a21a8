"""Spaced review over HTTP: scheduling from answers, the daily session, answers, away holds."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.gamification.models import PointAward
from app.reviews.models import ReviewItem
from tests import factories
from tests.paths.conftest import finish


def reviews(client, headers, **params):
    response = client.get("/api/v1/me/reviews", headers=headers, query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def answer(client, headers, question_id, choice_ids, **extra_headers):
    return client.post(
        f"/api/v1/me/reviews/{question_id}/answers",
        json={"choice_ids": choice_ids},
        headers={**headers, **extra_headers},
    )


def test_wrong_answers_come_back_tomorrow_without_the_answer_key(
    client, session, frozen_clock, learner, module, as_learner
):
    finish(client, session, as_learner, module, correct=False)
    assert reviews(client, as_learner)["items"] == []  # not due yet
    frozen_clock.advance(days=1)
    body = reviews(client, as_learner)
    version = factories.current_version(session, module)
    question_ids = [q["id"] for q in version.content["questions"]]
    assert [item["question_id"] for item in body["items"]] == question_ids
    first = body["items"][0]
    assert first["module_id"] == module.id
    assert first["prompt"] == "Hvor kaldt skal kjølevarer være?"
    assert first["due_at"] == "2026-11-26T10:00:00+00:00"
    assert [set(choice) for choice in first["choices"]] == [{"id", "text"}] * 3
    assert "correct" not in str(body["items"]) and "explanation" not in str(body["items"])
    assert body["next_cursor"] is None
    assert body["remaining_today"] == 10
    english = reviews(client, {**as_learner, "Accept-Language": "en"})
    assert english["items"][0]["prompt"] == "How cold must chilled goods be?"


def test_right_answers_are_sampled(client, session, frozen_clock, org, module, as_learner):
    org.settings = {"reviews": {"sample_correct_percent": 100}}
    session.flush()
    finish(client, session, as_learner, module, correct=True)
    items = session.scalars(select(ReviewItem)).all()
    assert len(items) == 3
    assert {item.box for item in items} == {2}
    frozen_clock.advance(days=2)
    assert reviews(client, as_learner)["items"] == []
    frozen_clock.advance(days=1)
    assert len(reviews(client, as_learner)["items"]) == 3


def test_no_sampling_leaves_right_answers_out(
    client, session, frozen_clock, org, module, as_learner
):
    org.settings = {"reviews": {"sample_correct_percent": 0}}
    session.flush()
    finish(client, session, as_learner, module, correct=True)
    assert session.scalars(select(ReviewItem)).all() == []


def test_answering_moves_the_schedule_and_pays_once(
    client, session, frozen_clock, learner, module, as_learner
):
    finish(client, session, as_learner, module, correct=False)
    frozen_clock.advance(days=1)
    version = factories.current_version(session, module)
    keys = factories.correct_choices(version)
    question_id = next(iter(keys))
    right = answer(client, as_learner, question_id, keys[question_id], **{"Idempotency-Key": "r1"})
    assert right.status_code == 200, right.json
    assert right.json["correct"] is True
    assert right.json["correct_choice_ids"] == keys[question_id]
    assert right.json["explanation"] == "Kjølevarer skal holde 0–4 °C."
    assert right.json["points_awarded"] == 5
    assert right.json["next_due_at"] == "2026-11-29T10:00:00+00:00"  # box 2: three days
    replay = answer(client, as_learner, question_id, keys[question_id], **{"Idempotency-Key": "r1"})
    assert replay.status_code == 200 and replay.json == right.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    other_body = answer(
        client,
        as_learner,
        question_id,
        factories.wrong_choice(version, question_id),
        **{"Idempotency-Key": "r1"},
    )
    assert other_body.status_code == 422
    not_due = answer(client, as_learner, question_id, keys[question_id])
    assert not_due.status_code == 409
    assert not_due.json["next_due_at"] == "2026-11-29T10:00:00+00:00"
    award = session.scalar(select(PointAward).where(PointAward.reason == "Review answered"))
    assert award is not None
    assert award.source_key == f"review:{question_id}:2026-11-26"
    assert [item["question_id"] for item in reviews(client, as_learner)["items"]] == list(keys)[1:]

    # A wrong answer sends it back to box 1: due again the next day.
    frozen_clock.advance(days=3)
    wrong = answer(client, as_learner, question_id, factories.wrong_choice(version, question_id))
    assert wrong.status_code == 200
    assert wrong.json["correct"] is False
    assert wrong.json["points_awarded"] == 0
    assert wrong.json["next_due_at"] == "2026-11-30T10:00:00+00:00"


def test_review_answer_errors(
    client, session, frozen_clock, learner, colleague, module, as_learner
):
    finish(client, session, as_learner, module, correct=False)
    frozen_clock.advance(days=1)
    version = factories.current_version(session, module)
    question_id = version.content["questions"][0]["id"]
    assert answer(client, {}, question_id, ["x"]).status_code == 401
    unknown = answer(client, as_learner, "NOPE", ["x"])
    assert unknown.status_code == 404
    assert unknown.mimetype == "application/problem+json"
    # Someone else's schedule is not mine.
    from tests.conftest import auth_headers

    assert answer(client, auth_headers(session, colleague), question_id, ["x"]).status_code == 404
    bad_choice = answer(client, as_learner, question_id, ["not-a-choice"])
    assert bad_choice.status_code == 422 and "choice_ids" in bad_choice.json["errors"]
    assert answer(client, as_learner, question_id, []).status_code == 422
    missing = client.post(f"/api/v1/me/reviews/{question_id}/answers", json={}, headers=as_learner)
    assert missing.status_code == 422 and "choice_ids" in missing.json["errors"]
    assert client.get("/api/v1/me/reviews").status_code == 401
    assert client.get("/api/v1/me/reviews?limit=0", headers=as_learner).status_code == 422
    assert client.get("/api/v1/me/reviews?cursor=_w", headers=as_learner).status_code == 422


def test_daily_session_is_capped_and_paged(client, session, frozen_clock, org, as_learner):
    org.settings = {"reviews": {"daily_limit": 4}}
    session.flush()
    modules = [
        factories.publish_module(session, org, factories.module_document(title=f"M{n}"))
        for n in range(2)
    ]
    for module in modules:
        finish(client, session, as_learner, module, correct=False)
    frozen_clock.advance(days=1)
    first = reviews(client, as_learner, limit=3)
    assert len(first["items"]) == 3 and first["remaining_today"] == 4
    assert first["next_cursor"]
    second = reviews(client, as_learner, limit=3, cursor=first["next_cursor"])
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    todays = first["items"] + second["items"]
    version_of = {m.id: factories.current_version(session, m) for m in modules}
    for item in todays[:2]:
        version = version_of[item["module_id"]]
        keys = factories.correct_choices(version)
        assert (
            answer(client, as_learner, item["question_id"], keys[item["question_id"]]).status_code
            == 200
        )
    after = reviews(client, as_learner)
    assert after["remaining_today"] == 2
    assert len(after["items"]) == 2
    # A new day opens a new session.
    frozen_clock.advance(days=1)
    assert reviews(client, as_learner)["remaining_today"] == 4


def test_archived_modules_leave_the_review_session(
    client, session, frozen_clock, module, as_learner
):
    finish(client, session, as_learner, module, correct=False)
    frozen_clock.advance(days=1)
    module.status = "archived"
    session.flush()
    assert reviews(client, as_learner)["items"] == []


def test_old_version_questions_stay_reviewable_after_a_new_version(
    client, session, frozen_clock, org, module, as_learner
):
    finish(client, session, as_learner, module, correct=False)
    old = factories.current_version(session, module)
    factories.publish_module(session, org, factories.module_document(), module=module)
    frozen_clock.advance(days=1)
    body = reviews(client, as_learner)
    assert [item["question_id"] for item in body["items"]] == [
        q["id"] for q in old.content["questions"]
    ]
    assert body["items"][0]["module_version"] == 1
    question_id = body["items"][0]["question_id"]
    keys = factories.correct_choices(old)
    assert answer(client, as_learner, question_id, keys[question_id]).json["correct"] is True


def test_away_hold_pauses_and_shifts_due_dates(
    client, session, frozen_clock, learner, module, as_learner
):
    finish(client, session, as_learner, module, correct=False)
    before = {item.question_id: item.due_at for item in session.scalars(select(ReviewItem))}
    patched = client.patch("/api/v1/me", json={"away_until": "2026-12-09"}, headers=as_learner)
    assert patched.status_code == 200, patched.json
    assert patched.json["away_until"] == "2026-12-09"
    assert client.get("/api/v1/me", headers=as_learner).json["away_until"] == "2026-12-09"
    # Away from now (25 Nov 10:00 UTC) until 9 Dec 00:00 in Oslo.
    away = datetime(2026, 12, 8, 23, tzinfo=UTC) - frozen_clock.current
    session.expire_all()
    after = {item.question_id: item.due_at for item in session.scalars(select(ReviewItem))}
    assert {q: after[q] - before[q] for q in before} == dict.fromkeys(before, away)

    frozen_clock.advance(days=3)
    paused = reviews(client, as_learner)
    assert paused["items"] == [] and paused["paused_until"] == "2026-12-09"
    version = factories.current_version(session, module)
    question_id = next(iter(before))
    blocked = answer(
        client, as_learner, question_id, factories.correct_choices(version)[question_id]
    )
    assert blocked.status_code == 409

    # Back on the 9th: nothing is overdue, the first reviews come the day after, as planned.
    frozen_clock.set(datetime(2026, 12, 9, 7, tzinfo=UTC))
    assert client.get("/api/v1/me", headers=as_learner).json["away_until"] is None
    assert reviews(client, as_learner)["items"] == []
    frozen_clock.set(datetime(2026, 12, 10, 0, tzinfo=UTC))
    assert len(reviews(client, as_learner)["items"]) == 3


def test_coming_back_early_gives_back_the_unused_days(
    client, session, frozen_clock, learner, module, as_learner
):
    finish(client, session, as_learner, module, correct=False)
    before = {item.question_id: item.due_at for item in session.scalars(select(ReviewItem))}
    assert (
        client.patch(
            "/api/v1/me", json={"away_until": "2026-12-09"}, headers=as_learner
        ).status_code
        == 200
    )
    frozen_clock.advance(days=2)
    back = client.patch("/api/v1/me", json={"away_until": None}, headers=as_learner)
    assert back.status_code == 200 and back.json["away_until"] is None
    session.expire_all()
    after = {item.question_id: item.due_at for item in session.scalars(select(ReviewItem))}
    # Net: moved on by exactly the two days away.
    assert {q: (after[q] - before[q]).days for q in before} == dict.fromkeys(before, 2)
    assert (
        client.patch(
            "/api/v1/me", json={"away_until": "not a date"}, headers=as_learner
        ).status_code
        == 422
    )


def test_a_wrong_answer_in_a_later_attempt_resets_the_card(
    client, session, frozen_clock, org, module, as_learner
):
    org.settings = {"reviews": {"sample_correct_percent": 100}}
    session.flush()
    finish(client, session, as_learner, module, correct=True)  # all enter box 2
    frozen_clock.advance(hours=1)
    finish(client, session, as_learner, module, correct=False)
    session.expire_all()
    items = session.scalars(select(ReviewItem)).all()
    assert {(item.box, item.lapses) for item in items} == {(1, 1)}
    assert {item.due_at for item in items} == {datetime(2026, 11, 26, 11, tzinfo=UTC)}
    # Right again in a third attempt: the card stays where it is.
    finish(client, session, as_learner, module, correct=True)
    session.expire_all()
    assert {item.box for item in session.scalars(select(ReviewItem))} == {1}


def test_offline_attempts_schedule_reviews_too(client, session, frozen_clock, module, as_learner):
    version = factories.current_version(session, module)
    event = {
        "client_id": "6f1c1f0e-7c0b-4a36-9d69-4a3a2b1c0d11",
        "type": "attempt",
        "module_id": module.id,
        "module_version": version.version,
        "started_at": "2026-11-25T08:00:00+00:00",
        "completed_at": "2026-11-25T08:05:00+00:00",
        "answers": [
            {
                "question_id": question_id,
                "choice_ids": factories.wrong_choice(version, question_id),
                "answered_at": "2026-11-25T08:01:00+00:00",
            }
            for question_id in factories.correct_choices(version)
        ],
    }
    synced = client.post("/api/v1/sync", json={"events": [event]}, headers=as_learner)
    assert synced.status_code == 200 and synced.json["results"][0]["status"] == "applied"
    frozen_clock.advance(days=1)
    assert len(reviews(client, as_learner)["items"]) == 3
