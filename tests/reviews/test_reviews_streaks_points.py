"""A spaced review is learning: it keeps the streak, pays into the ledger and the boards."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from app.gamification import service as gamification
from app.gamification.models import LearningDay, PointAward
from app.notifications import jobs
from app.notifications.models import Notification
from tests import factories
from tests.paths.conftest import finish
from tests.reviews.test_reviews_http import answer, reviews

BOARD = "/api/v1/leaderboards/users"


def my_score(client: Any, headers: dict[str, str]) -> int:
    board = client.get(f"{BOARD}?scope=organization", headers=headers)
    assert board.status_code == 200, board.json
    return int(board.json["me"]["score"]) if board.json["me"] else 0


def test_a_review_counts_as_a_learning_day_and_pays_the_boards_once(
    client: Any, session: Any, frozen_clock: Any, learner: Any, module: Any, as_learner: Any
) -> None:
    finish(client, session, as_learner, module, correct=False)  # Wednesday: a module
    before = my_score(client, as_learner)
    frozen_clock.advance(days=1)  # Thursday: only reviews
    [first, second, *_] = reviews(client, as_learner)["items"]
    version = factories.current_version(session, module)
    right = factories.correct_choices(version)

    response = answer(client, as_learner, first["question_id"], right[first["question_id"]])
    assert response.status_code == 200, response.json
    paid = response.json["points_awarded"]
    assert paid > 0
    wrong = factories.wrong_choice(version, second["question_id"])
    assert answer(client, as_learner, second["question_id"], wrong).json["points_awarded"] == 0

    days = session.scalars(select(LearningDay.day).where(LearningDay.user_id == learner.id)).all()
    assert sorted(days) == [date(2026, 11, 25), date(2026, 11, 26)]
    assert gamification.streak_of(session, learner, frozen_clock.current)["current"] == 2
    me = client.get("/api/v1/me", headers=as_learner).json
    assert me["streak"]["current"] == 2

    key = f"review:{first['question_id']}:2026-11-26"
    [award] = session.scalars(select(PointAward).where(PointAward.source_key == key)).all()
    assert (award.user_id, award.points, award.reason) == (learner.id, paid, "Review answered")
    # The same source never pays twice, so the board moved by exactly one payment.
    again = gamification.award_points(
        session,
        user=learner,
        points=paid,
        reason="Review answered",
        source_key=key,
        earned_at=frozen_clock.current,
        now=frozen_clock.current,
    )
    assert again == 0
    session.commit()
    assert my_score(client, as_learner) == before + paid


def test_a_review_yesterday_puts_the_streak_at_risk_this_evening(
    client: Any, session: Any, frozen_clock: Any, learner: Any, module: Any, as_learner: Any
) -> None:
    finish(client, session, as_learner, module, correct=False)  # Wednesday
    frozen_clock.advance(days=1)
    item = reviews(client, as_learner)["items"][0]
    version = factories.current_version(session, module)
    wrong = factories.wrong_choice(version, item["question_id"])
    assert answer(client, as_learner, item["question_id"], wrong).status_code == 200  # Thursday

    frozen_clock.set(datetime(2026, 11, 27, 18, 30, tzinfo=UTC))  # Friday 19:30 in Oslo
    assert jobs.send_streak_reminders() == 1
    assert jobs.send_streak_reminders() == 0
    [row] = session.scalars(select(Notification).where(Notification.type == "streak_at_risk")).all()
    assert row.user_id == learner.id
    assert row.body == "Du har 2 dager på rad. Ta en modul i dag!"
