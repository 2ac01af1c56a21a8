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


def connect_lrs(session, org) -> None:
    from app import clock
    from app.interop import service as xapi

    xapi.configure(
        session,
        org_id=org.id,
        endpoint="https://lrs.example.org/xapi/",
        username="nanolearn",
        password="lrs-password",
        enabled=True,
        now=clock.now(),
    )
    session.commit()


def test_an_lrs_adds_no_statement_to_an_answer_on_postgresql(
    phone, session, org, learner, module, version
):
    """The `answered` statement's outbox message rides in the answer's INSERT (PostgreSQL);
    SQLite needs a statement of its own."""
    from sqlalchemy import select

    from app.outbox.models import OutboxMessage

    org.settings = {**org.settings, "reviews": {"sample_correct_percent": 0}}
    session.flush()
    caching.clear_all()
    without = statements_of_answers(phone, session, module, version)
    connect_lrs(session, org)
    # Another module, so its right answers pay as the first round's did.
    other = factories.publish_module(session, org, factories.module_document(title="Frysevarer"))
    other_version = factories.current_version(session, other)
    with_lrs = statements_of_answers(phone, session, other, other_version)

    apart = 0 if session.connection().dialect.name == "postgresql" else 1
    assert [len(s) for s in with_lrs] == [len(s) + apart for s in without], with_lrs
    if not apart:
        assert any("INSERT INTO outbox_messages" in s and "INSERT INTO answers" in s
                   for s in with_lrs[1])  # fmt: skip
    messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    verbs = [m.payload["verb"]["id"].rsplit("/", 1)[1] for m in messages]
    # The second round's two attempts: each started, then its answers.
    assert verbs == ["attempted", "answered", "attempted", "answered", "answered"]
    assert {(m.channel, m.key, m.status) for m in messages} == {("xapi", learner.id, "pending")}


def test_a_repeated_answer_writes_no_statement(phone, session, org, module, version):
    from sqlalchemy import func, select

    from app.outbox.models import OutboxMessage

    connect_lrs(session, org)
    question = version.content["questions"][0]["id"]
    attempt = phone.start(module.id).json
    right = factories.correct_choices(version)[question]
    assert phone.answer(attempt["id"], question, right).status_code == 201
    again = phone.answer(attempt["id"], question, right)
    assert again.status_code == 409, again.json
    session.expire_all()
    # `attempted`, and one `answered`: the repeat's went back with its 409.
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
