"""Spaced review: questions enter the schedule from answers, come back when due, and pause while
the learner is away. The scheduling itself is pure (`rules.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from app import metrics
from app.content import service as content
from app.content.models import Module, ModuleVersion
from app.db import insert_for, new_id
from app.errors import Conflict, NotFound, Unprocessable
from app.gamification import service as gamification
from app.learning import grading
from app.orgs.models import User
from app.pagination import decode_cursor, encode_cursor
from app.paths.rules import local_date, local_midnight
from app.reviews import rules
from app.reviews.models import ReviewHold, ReviewItem

if TYPE_CHECKING:
    from app.auth.principal import UserFactsLike


def _timezone(user: User) -> str:
    return user.timezone or user.organization.timezone


@dataclass(frozen=True)
class ReviewWrite:
    """What an answer changes on the review schedule: the parameters of
    `schedule_statement(dialect, correct=correct)`."""

    correct: bool
    params: dict[str, Any]


def review_after_answer(
    *,
    user: UserFactsLike,
    module_id: str,
    question_id: str,
    version_id: str,
    correct: bool,
    now: datetime,
) -> ReviewWrite | None:
    """The schedule change of an answer, or None: a wrongly answered question (or a sampled
    right one) enters the schedule; a wrong answer to a question already there goes back to
    box 1. Decided without the database, so the answer's INSERT can carry it."""
    settings = rules.review_settings(user.organization.settings)
    if correct and not rules.sampled(user.id, question_id, settings["sample_correct_percent"]):
        return None
    card = rules.first_card(correct=correct, now=now)
    params: dict[str, Any] = {
        "review_id": new_id(),
        "review_org_id": user.org_id,
        "review_user_id": user.id,
        "review_module_id": module_id,
        "review_module_version_id": version_id,
        "review_question_id": question_id,
        "review_box": card.box,
        "review_due_at": card.due_at,
        "review_reviews": 0,
        "review_lapses": 0 if correct else 1,
        "review_created_at": now,
    }
    if not correct:
        relapse = rules.after_review(rules.Card(1, now), correct=False, now=now)
        params |= {"relapse_box": relapse.box, "relapse_due_at": relapse.due_at}
    return ReviewWrite(correct, params)


_items = ReviewItem.__table__
_WRITTEN = (
    "id", "org_id", "user_id", "module_id", "module_version_id", "question_id", "box",
    "due_at", "reviews", "lapses", "created_at",
)  # fmt: skip


@cache
def schedule_statement(dialect_name: str, *, correct: bool) -> Any:
    """The INSERT of a `ReviewWrite`, built once per dialect (the ORM's per-statement work
    would cost more than the round trip)."""
    return schedule_statement_when(dialect_name, correct=correct, only_if=None)


def schedule_statement_when(dialect_name: str, *, correct: bool, only_if: Any) -> Any:
    """The INSERT of a `ReviewWrite`, made only when `only_if` holds (None: always). Its
    parameters are named `review_*`, so it can ride in another statement as a CTE."""
    values = [bindparam(f"review_{name}", type_=_items.c[name].type) for name in _WRITTEN]
    insert = insert_for(dialect_name)(_items)
    if only_if is None:
        insert = insert.values(dict(zip(_WRITTEN, values, strict=True)))
    else:
        insert = insert.from_select(_WRITTEN, select(*values).where(only_if))
    conflict = ["user_id", "question_id"]
    if correct:
        # Already scheduled: a right answer in a module leaves the card where it is.
        return insert.on_conflict_do_nothing(index_elements=conflict)
    return insert.on_conflict_do_update(
        index_elements=conflict,
        set_={
            "box": bindparam("relapse_box", type_=_items.c.box.type),
            "due_at": bindparam("relapse_due_at", type_=_items.c.due_at.type),
            "lapses": _items.c.lapses + 1,
        },
    )


def _active_hold(session: Session, user: User, now: datetime) -> ReviewHold | None:
    hold = session.get(ReviewHold, user.id)
    return hold if hold is not None and hold.away_until > now else None


def away_until(session: Session, *, user: User, now: datetime) -> date | None:
    """The day the learner comes back, while a vacation hold is on."""
    hold = _active_hold(session, user, now)
    return local_date(hold.away_until, _timezone(user)) if hold else None


def set_away(session: Session, *, user: User, until: date | None, now: datetime) -> None:
    """Start, move or end a vacation hold: reviews pause until `until` (00:00 in the learner's
    time zone) and every due date moves on by the time away, so nobody returns to a pile."""
    target = local_midnight(until, _timezone(user)) if until is not None else None
    hold = session.get(ReviewHold, user.id)
    active = hold if hold is not None and hold.away_until > now else None
    shift = rules.hold_shift(
        now=now, current_until=active.away_until if active else None, new_until=target
    )
    if shift:
        items = list(session.scalars(select(ReviewItem).where(ReviewItem.user_id == user.id)))
        for item, due_at in zip(
            items, rules.shift_all((item.due_at for item in items), shift), strict=True
        ):
            item.due_at = due_at
    if target is not None and target > now:
        if hold is None:
            session.add(ReviewHold(user_id=user.id, away_from=now, away_until=target))
        else:
            hold.away_from = active.away_from if active else now
            hold.away_until = target
    elif hold is not None:
        session.delete(hold)
    session.flush()


def _reviewed_today(session: Session, user: User, now: datetime) -> int:
    since = local_midnight(local_date(now, _timezone(user)), _timezone(user))
    return int(
        session.scalar(
            select(func.count()).where(
                ReviewItem.user_id == user.id, ReviewItem.last_reviewed_at >= since
            )
        )
        or 0
    )


@dataclass(frozen=True)
class ReviewPage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    remaining_today: int
    paused_until: date | None


def due_reviews(
    session: Session,
    *,
    user: User,
    limit: int,
    cursor: str | None,
    locales: list[str],
    now: datetime,
) -> ReviewPage:
    """Today's review session: the most overdue questions first, capped at the organisation's
    daily limit, paged. Never the answer key. Empty while the learner is away."""
    hold = _active_hold(session, user, now)
    if hold is not None:
        return ReviewPage([], None, 0, local_date(hold.away_until, _timezone(user)))
    settings = rules.review_settings(user.organization.settings)
    remaining = max(settings["daily_limit"] - _reviewed_today(session, user, now), 0)
    if remaining == 0:
        return ReviewPage([], None, 0, None)
    session_ids = (
        select(ReviewItem.id)
        .join(Module, Module.id == ReviewItem.module_id)
        .where(ReviewItem.user_id == user.id, ReviewItem.due_at <= now)
        .where(Module.status == "published")
        .order_by(ReviewItem.due_at, ReviewItem.id)
        .limit(remaining)
    )
    stmt = select(ReviewItem).where(ReviewItem.id.in_(session_ids.scalar_subquery()))
    if cursor:
        stmt = stmt.where(ReviewItem.id > decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(ReviewItem.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    versions = {
        version.id: version
        for version in session.scalars(
            select(ModuleVersion).where(
                ModuleVersion.id.in_({row.module_version_id for row in rows})
            )
        )
    }
    items = [
        _review_item(row, versions[row.module_version_id], locales)
        for row in rows
        if row.module_version_id in versions
    ]
    return ReviewPage(items, encode_cursor(rows[-1].id) if more and rows else None, remaining, None)


def _question_view(version: ModuleVersion, question_id: str, locale: str) -> dict[str, Any]:
    translation = (
        version.content.get("translations", {}).get(locale) if locale != version.locale else None
    )
    for index, question in enumerate(version.content["questions"]):
        if question["id"] != question_id:
            continue
        tq = translation["questions"][index] if translation else None
        return {
            "kind": question["kind"],
            "prompt": tq["prompt"] if tq else question["prompt"],
            "choices": [
                {"id": choice["id"], "text": tq["choices"][n]["text"] if tq else choice["text"]}
                for n, choice in enumerate(question["choices"])
            ],
            "module_title": (translation or {}).get("title") or version.title,
        }
    raise NotFound("No such question.")


def _review_item(item: ReviewItem, version: ModuleVersion, locales: list[str]) -> dict[str, Any]:
    view = _question_view(version, item.question_id, content.pick_locale(version, locales))
    return {
        "question_id": item.question_id,
        "module_id": item.module_id,
        "module_version": version.version,
        "due_at": item.due_at,
        "box": item.box,
        **view,
    }


def answer_review(
    session: Session,
    *,
    user: User,
    question_id: str,
    choice_ids: list[str],
    locales: list[str],
    now: datetime,
) -> dict[str, Any]:
    """Grade a due review question, move its card up (right) or back to box 1 (wrong), count
    the learning day, and pay for a right answer once per due date."""
    item = session.scalar(
        select(ReviewItem)
        .where(ReviewItem.user_id == user.id, ReviewItem.question_id == question_id)
        .with_for_update()
    )
    module = session.get(Module, item.module_id) if item is not None else None
    if item is None or module is None or module.status != "published":
        raise NotFound("This question is not on your review schedule.")
    hold = _active_hold(session, user, now)
    if hold is not None:
        raise Conflict("Reviews are paused while you are away.")
    if item.due_at > now:
        raise Conflict(
            "This question is not due for review yet.",
            extra={"next_due_at": item.due_at.isoformat()},
        )
    version = content.get_version(session, item.module_version_id)
    keyed = grading.answer_key(version.id, version.content).questions.get(question_id)
    problems = grading.answer_problems(keyed, choice_ids)
    if problems or keyed is None:
        raise Unprocessable("The answer does not fit this question.", errors=problems)
    correct = grading.is_correct(keyed, choice_ids)
    due_date = item.due_at.date().isoformat()
    card = rules.after_review(rules.Card(item.box, item.due_at), correct=correct, now=now)
    item.box, item.due_at = card.box, card.due_at
    item.reviews += 1
    item.lapses += 0 if correct else 1
    item.last_reviewed_at = now
    # Any review answer, right or wrong, is learning: it keeps the streak going.
    gamification.record_learning_day(session, user=user, at=now)
    points = 0
    if correct:
        settings = rules.review_settings(user.organization.settings)
        points = gamification.award_points(
            session,
            user=user,
            points=settings["points_per_correct"],
            reason="Review answered",
            source_key=f"review:{question_id}:{due_date}",
            module_id=item.module_id,
            earned_at=now,
            now=now,
        )
    session.flush()
    metrics.count_after_commit(session, metrics.ANSWERS, source="review")
    locale = content.pick_locale(version, locales)
    return {
        "question_id": question_id,
        "correct": correct,
        "correct_choice_ids": list(keyed.correct_choice_ids),
        "explanation": content.localized_feedback(version, question_id, locale),
        "points_awarded": points,
        "next_due_at": card.due_at,
        "box": card.box,
    }
