"""`POST /attempts/{id}/answers` is the hottest write: the number of SQL statements of one
answer is fixed here, so a change that adds a round trip to PostgreSQL shows up in review.

Counted are the statements the app sends (BEGIN and COMMIT come on top of them)."""

from __future__ import annotations

import pytest

from app import caching
from tests import factories
from tests.paths.test_query_count import count_queries


def statements_of_answers(phone, session, module, version) -> tuple[list[str], list[str]]:
    """(statements of a right answer, of a wrong one) with warm caches: the learner's login
    and the module version are known to the process after an answer in another attempt, as
    on a serving worker during a shift start."""
    questions = version.content["questions"]
    key = factories.correct_choices(version)
    warm = phone.start(module.id).json
    assert phone.answer(warm["id"], questions[0]["id"], key[questions[0]["id"]]).status_code == 201
    attempt = phone.start(module.id).json
    with count_queries(session) as right:
        response = phone.answer(attempt["id"], questions[1]["id"], key[questions[1]["id"]])
    assert response.status_code == 201, response.json
    assert response.json["correct"] is True
    assert response.json["points_awarded"] > 0
    wrong_choice = factories.wrong_choice(version, questions[2]["id"])
    with count_queries(session) as wrong:
        response = phone.answer(attempt["id"], questions[2]["id"], wrong_choice)
    assert response.status_code == 201, response.json
    assert response.json["correct"] is False
    return right, wrong


@pytest.mark.parametrize(
    ("sample_correct_percent", "right_expected"),
    # A right answer enters the review schedule for a sampled share of learner × question
    # (20 % by default): never, or always.
    [(0, 3), (100, 3)],
)
def test_one_answer_is_a_fixed_number_of_statements(
    phone, session, org, module, version, sample_correct_percent, right_expected
):
    org.settings = {**org.settings, "reviews": {"sample_correct_percent": sample_correct_percent}}
    session.flush()
    caching.clear_all()
    right, wrong = statements_of_answers(phone, session, module, version)
    # Right: lock the attempt, record the answer (counting the right ones before it), pay;
    # a sampled one also schedules the review. Wrong: lock, record, schedule the review. On
    # PostgreSQL the review rides in the answer's INSERT; SQLite needs a statement of its own.
    apart = 0 if session.connection().dialect.name == "postgresql" else 1
    assert len(right) == right_expected + (apart if sample_correct_percent else 0), right
    assert len(wrong) == 2 + apart, wrong
    if not apart:
        assert any("INSERT INTO review_items" in s and "INSERT INTO answers" in s for s in wrong)


def test_a_repeated_wrong_answer_leaves_the_review_schedule_as_it_was(
    phone, session, learner, module, version
):
    """The review change rides in the answer's INSERT (PostgreSQL) and runs even when the
    answer turns out to be a repeat: the 409 must take it back."""
    from sqlalchemy import select

    from app.reviews.models import ReviewItem

    question = version.content["questions"][0]["id"]
    wrong = factories.wrong_choice(version, question)
    attempt = phone.start(module.id).json
    assert phone.answer(attempt["id"], question, wrong).status_code == 201
    stmt = select(ReviewItem.box, ReviewItem.lapses, ReviewItem.due_at).where(
        ReviewItem.user_id == learner.id, ReviewItem.question_id == question
    )
    before = session.execute(stmt).one()
    assert before.lapses == 1
    again = phone.answer(attempt["id"], question, wrong)
    assert again.status_code == 409, again.json
    session.expire_all()
    assert session.execute(stmt).one() == before
