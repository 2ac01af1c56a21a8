"""The game pays for work only (docs/game-rules.md, "What counts"): completion points, learning
days, badges and path progress need every question answered (the path: passed), online,
offline and in review; offline work obeys the same locks as online work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.gamification.models import EarnedBadge, LearningDay, PointAward
from tests import factories
from tests.learning.conftest import Learner
from tests.learning.test_sync import offline_event
from tests.paths.conftest import finish, make_modules, schedule


def ledger(session: Any, user: Any) -> dict[str, int]:
    return dict(
        session.execute(
            select(PointAward.source_key, PointAward.points).where(PointAward.user_id == user.id)
        ).all()
    )


def badges(session: Any, user: Any) -> set[str]:
    return set(session.scalars(select(EarnedBadge.code).where(EarnedBadge.user_id == user.id)))


def week(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/v1/paths/current", headers=headers)
    assert response.status_code == 200, response.json
    return dict(response.json)


def test_a_module_completed_without_answers_earns_nothing(
    client, session, org, learner, frozen_clock, as_editor, as_learner
):
    """Issue: an empty attempt paid 20 points and counted for the week's path badge; two empty
    offline events and one such attempt earned the path badge, "first module" and 60 points."""
    first, second, third = make_modules(session, org, 3)
    schedule(client, as_editor, [first, second, third])
    phone = Learner(client, as_learner)

    attempt = phone.start(first.id).json
    done = phone.complete(attempt["id"]).json
    assert done["score"] == {"correct": 0, "total": 3}
    assert done["passed"] is False
    assert done["points_awarded"] == 0
    assert done["new_badges"] == []
    assert done["streak"]["current"] == 0

    empty = []
    for module in (second, third):
        event = offline_event(
            factories.current_version(session, module),
            completed_at=frozen_clock() - timedelta(minutes=5),
        )
        event["answers"] = []
        empty.append(event)
    results = phone.sync(empty).json["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]  # recorded, not paid
    assert [r["points_awarded"] for r in results] == [0, 0]

    assert ledger(session, learner) == {}
    assert badges(session, learner) == set()
    assert session.scalar(select(func.count()).where(LearningDay.user_id == learner.id)) == 0
    [path] = week(client, as_learner)["paths"]
    assert [m["status"] for m in path["modules"]] == ["completed"] * 3  # the contract's meaning
    assert path["progress"] == {"completed": 0, "total": 3}


def test_a_module_with_a_question_left_out_pays_no_completion_and_does_not_pass(
    client, session, org, learner, frozen_clock, as_editor, as_learner
):
    org.settings = {**org.settings, "pass_threshold_percent": 60}
    module = make_modules(session, org, 1)[0]
    schedule(client, as_editor, [module])
    version = factories.current_version(session, module)
    phone = Learner(client, as_learner)
    attempt = phone.start(module.id).json
    # Two of three right would pass at 60 %, but the third question was never answered.
    for question_id, choices in list(factories.correct_choices(version).items())[:2]:
        assert phone.answer(attempt["id"], question_id, choices).status_code == 201
    done = phone.complete(attempt["id"]).json
    assert done["score"] == {"correct": 2, "total": 3}
    assert done["passed"] is False
    assert done["points_awarded"] == 0
    assert not [key for key in ledger(session, learner) if key.endswith(":complete")]
    assert week(client, as_learner)["paths"][0]["progress"]["completed"] == 0

    # Answering everything (even wrongly) is a whole attempt: the completion bonus, once.
    done = finish(client, session, as_learner, module, correct=False)
    assert done["points_awarded"] == 20
    assert done["passed"] is False
    assert "first_module" in {badge["code"] for badge in done["new_badges"]}
    assert week(client, as_learner)["paths"][0]["progress"]["completed"] == 0


def test_offline_sync_obeys_the_sequential_lock(
    client, session, org, learner, frozen_clock, as_editor, as_learner
):
    """Issue: a module locked online (409) was accepted through /sync and counted done."""
    first, second = make_modules(session, org, 2)
    schedule(client, as_editor, [first, second], sequential=True)
    phone = Learner(client, as_learner)
    assert phone.start(second.id).status_code == 409
    when = frozen_clock() - timedelta(minutes=30)
    locked = offline_event(factories.current_version(session, second), completed_at=when)

    [result] = phone.sync([locked]).json["results"]
    assert result["status"] == "rejected"
    assert result["reason"] == "module_locked"
    assert "Modul 1" in result["errors"]["module_id"][0]
    assert result["points_awarded"] == 0
    assert result["attempt_id"] is None
    assert ledger(session, learner) == {}
    [path] = week(client, as_learner)["paths"]
    assert [m["status"] for m in path["modules"]] == ["available", "locked"]
    assert path["progress"]["completed"] == 0

    # Done offline in order, uploaded together: the first opens the second.
    again = offline_event(factories.current_version(session, second), completed_at=when)
    opener = offline_event(factories.current_version(session, first), completed_at=when)
    results = phone.sync([opener, again]).json["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert week(client, as_learner)["paths"][0]["progress"] == {"completed": 2, "total": 2}


def test_a_failed_module_does_not_open_the_next_one_online_or_offline(
    client, session, org, learner, frozen_clock, as_editor, as_learner
):
    first, second = make_modules(session, org, 2)
    schedule(client, as_editor, [first, second], sequential=True)
    finish(client, session, as_learner, first, correct=False)
    phone = Learner(client, as_learner)
    assert phone.start(second.id).status_code == 409
    event = offline_event(factories.current_version(session, second), completed_at=frozen_clock())
    [result] = phone.sync([event]).json["results"]
    assert (result["status"], result["reason"]) == ("rejected", "module_locked")


def test_offline_sync_obeys_prerequisites(client, session, org, learner, frozen_clock, as_learner):
    basics = factories.publish_module(session, org, factories.module_document(title="Grunnkurs"))
    advanced = factories.publish_module(
        session, org, factories.module_document(title="Videregående"), prerequisite_ids=[basics.id]
    )
    phone = Learner(client, as_learner)
    event = offline_event(factories.current_version(session, advanced), completed_at=frozen_clock())
    [result] = phone.sync([event]).json["results"]
    assert (result["status"], result["reason"]) == ("rejected", "module_locked")
    assert "Grunnkurs" in result["errors"]["module_id"][0]
    assert ledger(session, learner) == {}


def test_no_first_try_bonus_after_seeing_the_answer_in_an_abandoned_attempt(
    client, session, org, learner, frozen_clock, module, as_learner
):
    version = factories.current_version(session, module)
    question_id, right = next(iter(factories.correct_choices(version).items()))
    phone = Learner(client, as_learner)
    peek = phone.start(module.id).json
    feedback = phone.answer(peek["id"], question_id, factories.wrong_choice(version, question_id))
    assert feedback.json["correct_choice_ids"] == right  # the feedback shows the right answer
    # The attempt is left open; a new one answers right: the answer pays, the bonus does not.
    retry = phone.start(module.id).json
    answered = phone.answer(retry["id"], question_id, right)
    assert answered.json["points_awarded"] == 10
    assert not [key for key in ledger(session, learner) if ":first-try:" in key]


def test_a_changed_body_under_a_used_idempotency_key_pays_nothing(
    client, session, org, learner, frozen_clock, module, as_learner
):
    version = factories.current_version(session, module)
    (first_q, first_right), (second_q, second_right), _ = factories.correct_choices(version).items()
    phone = Learner(client, as_learner)
    attempt = phone.start(module.id).json
    key = {"Idempotency-Key": "answer-1"}
    assert phone.answer(attempt["id"], first_q, first_right, **key).status_code == 201
    reused = phone.answer(attempt["id"], second_q, second_right, **key)
    assert reused.status_code == 422
    assert len(ledger(session, learner)) == 2  # the first answer's two awards only
    # The second question is still open: the refused request recorded nothing.
    assert phone.answer(attempt["id"], second_q, second_right).status_code == 201


def test_a_review_answer_for_a_question_never_seen_is_404_and_pays_nothing(
    client, session, org, learner, frozen_clock, module, as_learner
):
    version = factories.current_version(session, module)
    question_id, right = next(iter(factories.correct_choices(version).items()))
    response = client.post(
        f"/api/v1/me/reviews/{question_id}/answers", json={"choice_ids": right}, headers=as_learner
    )
    assert response.status_code == 404
    assert ledger(session, learner) == {}
    assert session.scalar(select(func.count()).where(LearningDay.user_id == learner.id)) == 0
