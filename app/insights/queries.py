"""Read-only SQL aggregates over other domains' tables (users, attempts, answers, the points
ledger). Nothing here writes. Each function takes the people it is about as a list of user
ids and asks in chunks small enough for SQLite's bound-parameter limit (PostgreSQL takes a
whole region's people in one statement)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, Text, case, cast, distinct, func, select, tuple_
from sqlalchemy.orm import Session

from app.gamification.models import LearningDay, PointAward
from app.insights.models import ModulePass
from app.learning.models import Answer, Attempt
from app.orgs.models import User


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    username: str
    display_name: str
    department_id: str
    roles: tuple[str, ...]
    created_at: datetime
    started_on: date | None
    locale: str | None
    timezone: str | None
    organization: Any = None  # the organisation's facts, set by the service when needed

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


@dataclass(frozen=True, slots=True)
class AttemptStats:
    attempts: int
    correct: int
    total: int
    modules: int


def _chunk_size(session: Session) -> int:
    return 20_000 if session.get_bind().dialect.name == "postgresql" else 900


def _chunks(session: Session, ids: Sequence[str]) -> Iterator[Sequence[str]]:
    size = _chunk_size(session)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


_MEMBER_COLUMNS = (
    User.id,
    User.username,
    User.display_name,
    User.department_id,
    # As its JSON text: a region's ten thousand people share a handful of role lists, and
    # decoding each row's JSON cost a fifth of a region's figures (`_roles`).
    cast(User.roles, Text),
    User.created_at,
    User.started_on,
    User.locale,
    User.timezone,
)


@functools.lru_cache(maxsize=256)
def _roles(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text else ()


def _member(row: Any) -> Member:
    return Member(row[0], row[1], row[2], row[3] or "", _roles(row[4]), *row[5:])


def members_statement(
    org_id: str, department_ids: Sequence[str], *, joined_before: datetime | None
) -> Any:
    """Active users of the departments (a department list, not a subtree), by name."""
    stmt: Any = select(*_MEMBER_COLUMNS).where(
        User.org_id == org_id, User.active.is_(True), User.department_id.in_(department_ids)
    )
    if joined_before is not None:
        stmt = stmt.where(User.created_at < joined_before)
    return stmt.order_by(User.display_name, User.id)


def starters(
    session: Session, org_id: str, department_ids: Sequence[str], *, joined_before: datetime
) -> Iterator[tuple[str, str, str | None, datetime, date | None]]:
    """The departments' members with only what their assignments depend on: (id, department
    id, roles as their JSON text (`roles_of`), created at, started on). Plain rows: a region
    has ten thousand people, and an object each cost more than the rest of its figures."""
    rows = session.execute(
        select(
            User.id, User.department_id, cast(User.roles, Text), User.created_at, User.started_on
        ).where(
            User.org_id == org_id,
            User.active.is_(True),
            User.department_id.in_(department_ids),
            User.created_at < joined_before,
        )
    )
    for row in rows:
        yield row[0], row[1] or "", row[2], row[3], row[4]


def roles_of(text: str | None) -> tuple[str, ...]:
    """A user's roles from the JSON text the queries read them as."""
    return _roles(text)


def week_totals_by_department(
    session: Session,
    org_id: str,
    department_ids: Sequence[str],
    *,
    joined_before: datetime,
    start: datetime,
    end: datetime,
) -> tuple[dict[str, tuple[int, int, int]], dict[str, int]]:
    """Per department, over its members (joined before `joined_before`): (people who
    completed an attempt, right answers, questions) of the attempts completed in [start, end),
    and the points earned then. Two aggregates in the database, no row per person."""

    def of_members(stmt: Select[Any], user_column: Any) -> Select[Any]:
        return stmt.join(User, User.id == user_column).where(
            User.org_id == org_id,
            User.active.is_(True),
            User.department_id.in_(department_ids),
            User.created_at < joined_before,
        )

    attempts: dict[str, tuple[int, int, int]] = {}
    done: Any = select(
        User.department_id,
        func.count(distinct(Attempt.user_id)),
        func.coalesce(func.sum(Attempt.score_correct), 0),
        func.coalesce(func.sum(Attempt.questions_total), 0),
    ).select_from(Attempt)
    done = of_members(done, Attempt.user_id).where(
        Attempt.completed_at >= start, Attempt.completed_at < end
    )
    for department_id, people, correct, total in session.execute(done.group_by(User.department_id)):
        attempts[department_id] = (int(people), int(correct or 0), int(total or 0))
    points: dict[str, int] = {}
    earned: Any = select(User.department_id, func.sum(PointAward.points)).select_from(PointAward)
    earned = of_members(earned, PointAward.user_id).where(
        PointAward.earned_at >= start, PointAward.earned_at < end
    )
    for department_id, total in session.execute(earned.group_by(User.department_id)):
        points[department_id] = int(total or 0)
    return attempts, points


def members(
    session: Session,
    org_id: str,
    department_ids: Sequence[str],
    *,
    joined_before: datetime | None = None,
    after: tuple[str, str] | None = None,
    limit: int | None = None,
) -> list[Member]:
    """The members of the departments ordered by (display name, id), after a key if given."""
    stmt = members_statement(org_id, department_ids, joined_before=joined_before)
    if after is not None:
        stmt = stmt.where(tuple_(User.display_name, User.id) > tuple_(*after))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_member(row) for row in session.execute(stmt)]


def members_by_id(session: Session, org_id: str, user_ids: Sequence[str]) -> list[Member]:
    """The active users among the ids who belong to a department, by name."""
    found: list[Member] = []
    for chunk in _chunks(session, user_ids):
        stmt = (
            select(*_MEMBER_COLUMNS)
            .where(
                User.org_id == org_id,
                User.active.is_(True),
                User.department_id.is_not(None),
                User.id.in_(chunk),
            )
            .order_by(User.display_name, User.id)
        )
        found += [_member(row) for row in session.execute(stmt)]
    return found


def member_counts(session: Session, org_id: str) -> dict[str, int]:
    """Department id -> its own active users (not its subtree's)."""
    return {
        str(department_id): int(count)
        for department_id, count in session.execute(
            select(User.department_id, func.count())
            .where(User.org_id == org_id, User.active.is_(True), User.department_id.is_not(None))
            .group_by(User.department_id)
        )
    }


def attempt_stats(
    session: Session, user_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, AttemptStats]:
    """Per user, the attempts completed in [start, end): count, score sums, distinct modules."""
    found: dict[str, AttemptStats] = {}
    for chunk in _chunks(session, user_ids):
        for user_id, count, correct, total, modules in session.execute(
            select(
                Attempt.user_id,
                func.count(),
                func.coalesce(func.sum(Attempt.score_correct), 0),
                func.coalesce(func.sum(Attempt.questions_total), 0),
                func.count(distinct(Attempt.module_id)),
            )
            .where(
                Attempt.user_id.in_(chunk),
                Attempt.completed_at >= start,
                Attempt.completed_at < end,
            )
            .group_by(Attempt.user_id)
        ):
            found[user_id] = AttemptStats(count, int(correct or 0), int(total or 0), modules)
    return found


def points(
    session: Session, user_ids: Sequence[str], start: datetime | None, end: datetime
) -> dict[str, int]:
    """Per user, the points earned in [start, end) (from the beginning when start is None)."""
    found: dict[str, int] = {}
    for chunk in _chunks(session, user_ids):
        stmt = select(PointAward.user_id, func.sum(PointAward.points)).where(
            PointAward.user_id.in_(chunk), PointAward.earned_at < end
        )
        if start is not None:
            stmt = stmt.where(PointAward.earned_at >= start)
        for user_id, total in session.execute(stmt.group_by(PointAward.user_id)):
            found[user_id] = int(total) if total else 0
    return found


def completed_modules(
    session: Session, user_ids: Sequence[str], module_ids: Sequence[str], before: datetime
) -> set[tuple[str, str]]:
    """(user id, module id) for each module a user passed an attempt on before `before`: what
    the learner's path counts done (`progress.completed`; docs/game-rules.md, What counts). An
    attempt completed without the work (nothing answered) must not make anyone compliant.
    Read from the rollup of first passes (`passes.py`), which `attempts` decide."""
    if not module_ids:
        return set()
    found: set[tuple[str, str]] = set()
    for chunk in _chunks(session, user_ids):
        found.update(
            (user_id, module_id)
            for user_id, module_id in session.execute(
                select(ModulePass.user_id, ModulePass.module_id).where(
                    ModulePass.user_id.in_(chunk),
                    ModulePass.module_id.in_(module_ids),
                    ModulePass.first_passed_at < before,
                )
            )
        )
    return found


def passes_in_departments(
    session: Session, department_ids: Sequence[str], module_ids: Sequence[str], before: datetime
) -> Iterator[tuple[str, str]]:
    """(user id, module id) as `completed_modules` gives them, for everyone whose department
    now is one of `department_ids` (a region's people: one range of
    `ix_module_passes_department` instead of a probe per person). It may name people who are
    not members (deactivated, or joined after the week): look up only members in it."""
    if not module_ids or not department_ids:
        return
    rows = session.execute(
        select(ModulePass.user_id, ModulePass.module_id).where(
            ModulePass.department_id.in_(department_ids),
            ModulePass.module_id.in_(module_ids),
            ModulePass.first_passed_at < before,
        )
    )
    yield from ((user_id, module_id) for user_id, module_id in rows)


def last_passed(
    session: Session, user_ids: Sequence[str], module_ids: Sequence[str], until: datetime
) -> dict[tuple[str, str], tuple[datetime, datetime]]:
    """(user id, module id) -> (first, last) time an attempt on it was passed, up to `until`."""
    if not module_ids:
        return {}
    found: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for chunk in _chunks(session, user_ids):
        for user_id, module_id, first, last in session.execute(
            select(
                Attempt.user_id,
                Attempt.module_id,
                func.min(Attempt.completed_at),
                func.max(Attempt.completed_at),
            )
            .where(
                Attempt.user_id.in_(chunk),
                Attempt.module_id.in_(module_ids),
                Attempt.passed.is_(True),
                Attempt.completed_at <= until,
            )
            .group_by(Attempt.user_id, Attempt.module_id)
        ):
            if first is not None and last is not None:
                found[(user_id, module_id)] = (first, last)
    return found


def last_learned(session: Session, user_ids: Sequence[str], until: datetime) -> dict[str, datetime]:
    """Per user, the last time they completed a module attempt, up to `until`."""
    found: dict[str, datetime] = {}
    for chunk in _chunks(session, user_ids):
        for user_id, last in session.execute(
            select(Attempt.user_id, func.max(Attempt.completed_at))
            .where(Attempt.user_id.in_(chunk), Attempt.completed_at <= until)
            .group_by(Attempt.user_id)
        ):
            if last is not None:
                found[user_id] = last
    return found


def answers_by_question(
    session: Session, user_ids: Sequence[str], start: datetime, end: datetime
) -> dict[tuple[str, str], tuple[set[str], int, int]]:
    """(module id, question id) -> (who answered, answers, wrong answers) in [start, end)."""
    found: dict[tuple[str, str], tuple[set[str], int, int]] = {}
    for chunk in _chunks(session, user_ids):
        for module_id, question_id, user_id, count, wrong in session.execute(
            select(
                Attempt.module_id,
                Answer.question_id,
                Attempt.user_id,
                func.count(),
                func.sum(case((Answer.correct.is_(False), 1), else_=0)),
            )
            .join(Attempt, Attempt.id == Answer.attempt_id)
            .where(
                Attempt.user_id.in_(chunk),
                Answer.answered_at >= start,
                Answer.answered_at < end,
            )
            .group_by(Attempt.module_id, Answer.question_id, Attempt.user_id)
        ):
            people, answers, wrongs = found.get((module_id, question_id), (set(), 0, 0))
            people.add(user_id)
            found[(module_id, question_id)] = (
                people,
                answers + int(count),
                wrongs + int(wrong or 0),
            )
    return found


def completed_attempts(session: Session, user_id: str) -> list[Any]:
    """One person's completed attempts, newest first."""
    return list(
        session.execute(
            select(
                Attempt.id,
                Attempt.module_id,
                Attempt.module_version,
                Attempt.started_at,
                Attempt.completed_at,
                Attempt.score_correct,
                Attempt.questions_total,
                Attempt.passed,
            )
            .where(Attempt.user_id == user_id, Attempt.completed_at.is_not(None))
            .order_by(Attempt.completed_at.desc(), Attempt.id.desc())
        )
    )


def learning_days(session: Session, user_id: str) -> list[date]:
    """The local days one person learned on, newest first."""
    return list(
        session.scalars(
            select(LearningDay.day)
            .where(LearningDay.user_id == user_id)
            .order_by(LearningDay.day.desc())
        )
    )
