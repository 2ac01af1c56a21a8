"""Starting, answering and completing attempts over HTTP."""

from __future__ import annotations

from sqlalchemy import select

from app.gamification.models import PointAward
from tests import factories


def test_a_perfect_first_attempt_pays_answers_first_try_completion_and_perfect(
    phone, module, version
):
    attempt = phone.start(module.id)
    assert attempt.status_code == 201
    assert attempt.json["module_id"] == module.id
    assert attempt.json["module_version"] == 1
    assert attempt.json["questions_total"] == 3

    for question_id, choice_ids in factories.correct_choices(version).items():
        feedback = phone.answer(attempt.json["id"], question_id, choice_ids)
        assert feedback.status_code == 201
        assert feedback.json["correct"] is True
        assert sorted(feedback.json["correct_choice_ids"]) == sorted(choice_ids)
        assert feedback.json["explanation"]
        assert feedback.json["points_awarded"] == 10 + 5  # correct + first try

    result = phone.complete(attempt.json["id"])
    assert result.status_code == 200
    assert result.json["score"] == {"correct": 3, "total": 3}
    assert result.json["passed"] is True
    assert result.json["points_awarded"] == 20 + 15  # completion + perfect score
    assert result.json["points_total"] == 80
    assert result.json["level"] == {"number": 1, "points_to_next": 20}
    assert result.json["streak"]["current"] == 1
    assert phone.points_total() == 80


def test_a_wrong_answer_gets_the_explanation_and_no_points(phone, module, version):
    attempt = phone.start(module.id).json
    question = version.content["questions"][0]
    feedback = phone.answer(
        attempt["id"], question["id"], factories.wrong_choice(version, question["id"])
    )
    assert feedback.status_code == 201
    assert feedback.json["correct"] is False
    assert feedback.json["points_awarded"] == 0
    assert feedback.json["explanation"] == question["explanation"]
    assert feedback.json["correct_choice_ids"] == [
        c["id"] for c in question["choices"] if c["correct"]
    ]


def test_explanations_follow_the_language(client, learner, session, module, version):
    from tests.conftest import auth_headers

    headers = auth_headers(session, learner, **{"Accept-Language": "en-GB,en;q=0.9"})
    attempt = client.post(f"/api/v1/modules/{module.id}/attempts", headers=headers).json
    question = version.content["questions"][0]
    feedback = client.post(
        f"/api/v1/attempts/{attempt['id']}/answers",
        json={
            "question_id": question["id"],
            "choice_ids": factories.wrong_choice(version, question["id"]),
        },
        headers=headers,
    )
    assert feedback.json["explanation"] == "Chilled goods must be kept at 0–4 °C."


def test_failing_the_pass_mark_still_completes(phone, module, version):
    attempt = phone.start(module.id).json
    question = version.content["questions"][0]
    phone.answer(attempt["id"], question["id"], factories.wrong_choice(version, question["id"]))
    result = phone.complete(attempt["id"])
    assert result.status_code == 200
    assert result.json["score"] == {"correct": 0, "total": 3}
    assert result.json["passed"] is False


def test_the_same_question_twice_in_one_attempt_is_409(phone, module, version):
    attempt = phone.start(module.id).json
    question_id, choice_ids = next(iter(factories.correct_choices(version).items()))
    assert phone.answer(attempt["id"], question_id, choice_ids).status_code == 201
    again = phone.answer(attempt["id"], question_id, choice_ids)
    assert again.status_code == 409
    assert again.content_type == "application/problem+json"
    assert phone.points_total() == 15


def test_a_question_or_choice_from_elsewhere_is_422(phone, session, org, module, version):
    other = factories.publish_module(session, org, factories.module_document(title="Annen modul"))
    other_version = factories.current_version(session, other)
    foreign_question = other_version.content["questions"][0]["id"]
    attempt = phone.start(module.id).json

    wrong_question = phone.answer(attempt["id"], foreign_question, ["x"])
    assert wrong_question.status_code == 422
    assert "question_id" in wrong_question.json["errors"]

    question = version.content["questions"][0]
    foreign_choice = other_version.content["questions"][0]["choices"][0]["id"]
    wrong_choice = phone.answer(attempt["id"], question["id"], [foreign_choice])
    assert wrong_choice.status_code == 422
    assert "choice_ids" in wrong_choice.json["errors"]


def test_single_choice_takes_exactly_one_choice(phone, module, version):
    attempt = phone.start(module.id).json
    question = version.content["questions"][0]
    both = [choice["id"] for choice in question["choices"][:2]]
    response = phone.answer(attempt["id"], question["id"], both)
    assert response.status_code == 422
    assert response.json["errors"]["choice_ids"]


def test_answer_body_is_validated(phone, module):
    attempt = phone.start(module.id).json
    response = phone.client.post(
        f"/api/v1/attempts/{attempt['id']}/answers",
        json={"question_id": "", "choice_ids": "nope"},
        headers=phone.headers,
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) >= {"question_id", "choice_ids"}


def test_answering_after_completion_is_409(phone, module, version):
    attempt = phone.start(module.id).json
    phone.complete(attempt["id"])
    question_id, choice_ids = next(iter(factories.correct_choices(version).items()))
    assert phone.answer(attempt["id"], question_id, choice_ids).status_code == 409


def test_complete_twice_returns_the_same_and_pays_once(phone, module, version):
    attempt = phone.start(module.id).json
    for question_id, choice_ids in factories.correct_choices(version).items():
        phone.answer(attempt["id"], question_id, choice_ids)
    first = phone.complete(attempt["id"])
    second = phone.complete(attempt["id"])
    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    assert phone.points_total() == 80


def test_a_second_attempt_on_the_same_module_gets_no_second_completion_bonus(phone, module):
    first = phone.start(module.id).json
    phone.complete(first["id"])
    second = phone.start(module.id).json
    assert phone.complete(second["id"]).json["points_awarded"] == 0


def test_an_attempt_is_graded_against_the_version_it_started_on(
    phone, session, org, module, version
):
    attempt = phone.start(module.id).json
    # The editor publishes version 2 with a different answer key while the learner is mid-module.
    changed = factories.module_document()
    changed["questions"][0]["choices"] = [
        {"text": "8–10 °C", "correct": True},
        {"text": "0–4 °C", "correct": False},
        {"text": "12 °C", "correct": False},
    ]
    changed["translations"] = {}
    factories.publish_module(session, org, changed, module=module)
    assert module.current_version == 2

    question = version.content["questions"][0]
    old_key = [c["id"] for c in question["choices"] if c["correct"]]
    feedback = phone.answer(attempt["id"], question["id"], old_key)
    assert feedback.status_code == 201
    assert feedback.json["correct"] is True
    assert phone.start(module.id).json["module_version"] == 2


def test_attempts_of_unknown_modules_and_attempts_are_404(phone):
    assert phone.start("01NOSUCHMODULE000000000000").status_code == 404
    assert phone.complete("01NOSUCHATTEMPT00000000000").status_code == 404
    assert phone.answer("01NOSUCHATTEMPT00000000000", "q", ["c"]).status_code == 404


def test_another_learners_attempt_is_404(phone, client, session, colleague, module, version):
    from tests.conftest import auth_headers

    attempt = phone.start(module.id).json
    theirs = auth_headers(session, colleague)
    question_id, choice_ids = next(iter(factories.correct_choices(version).items()))
    response = client.post(
        f"/api/v1/attempts/{attempt['id']}/answers",
        json={"question_id": question_id, "choice_ids": choice_ids},
        headers=theirs,
    )
    assert response.status_code == 404
    assert (
        client.post(f"/api/v1/attempts/{attempt['id']}/complete", headers=theirs).status_code == 404
    )


def test_a_module_with_unmet_prerequisites_is_locked(phone, session, org, module):
    advanced = factories.publish_module(
        session,
        org,
        factories.module_document(title="Avvik i kjølekjeden"),
        prerequisite_ids=[module.id],
    )
    locked = phone.start(advanced.id)
    assert locked.status_code == 409
    assert "Kjølekjeden" in locked.json["detail"]
    assert locked.json["reason"]

    # Completing the prerequisite without answering does not open it; passing it does.
    attempt = phone.start(module.id).json
    phone.complete(attempt["id"])
    assert phone.start(advanced.id).status_code == 409
    attempt = phone.start(module.id).json
    for question_id, choices in factories.correct_choices(
        factories.current_version(session, module)
    ).items():
        assert phone.answer(attempt["id"], question_id, choices).status_code == 201
    assert phone.complete(attempt["id"]).json["passed"] is True
    assert phone.start(advanced.id).status_code == 201


def test_drafts_and_archived_modules_are_invisible(phone, session, org, module):
    from app.content.models import Module

    draft = Module(org_id=org.id, draft=factories.module_document())
    session.add(draft)
    module.status = "archived"
    session.flush()
    assert phone.start(draft.id).status_code == 404
    assert phone.start(module.id).status_code == 404
    assert phone.client.get("/api/v1/modules", headers=phone.headers).json["items"] == []


def test_answers_pay_into_the_department_the_learner_is_in_now(
    client, session, phone, learner, checkout, warehouse, module, version, as_admin
):
    attempt = phone.start(module.id).json
    questions = list(factories.correct_choices(version).items())
    assert phone.answer(attempt["id"], *questions[0]).status_code == 201
    moved = client.patch(
        f"/api/v1/admin/users/{learner.id}",
        json={"department_id": warehouse.id},
        headers=as_admin,
    )
    assert moved.status_code == 200
    assert phone.answer(attempt["id"], *questions[1]).status_code == 201
    departments = session.scalars(
        select(PointAward.department_id)
        .where(PointAward.user_id == learner.id)
        .order_by(PointAward.id)
    ).all()
    # Two awards per answer (correct + first try), each in the department of its moment.
    assert departments == [checkout.id, checkout.id, warehouse.id, warehouse.id]
