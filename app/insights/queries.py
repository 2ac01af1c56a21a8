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

from sqlalchemy import (
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    distinct,
    func,
    null,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql
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


def _among(session: Session, column: Any, values: Sequence[str]) -> Any:
    """`column IN (values)`; on PostgreSQL `column = ANY(:values)`, one array parameter: the
    statement's text is then the same for any number of values, so SQLAlchemy compiles it,
    and psycopg parses and prepares it, once, instead of for each length (a store's hundred
    ids cost more to render and parse than the query costs the database)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(String)))
    return column.in_(values)


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
    session: Session, org_id: str, department_ids: Sequence[str], *, joined_before: datetime | None
) -> Any:
    """Active users of the departments (a department list, not a subtree), by name."""
    stmt: Any = select(*_MEMBER_COLUMNS).where(
        User.org_id == org_id,
        User.active.is_(True),
        _among(session, User.department_id, department_ids),
    )
    if joined_before is not None:
        stmt = stmt.where(User.created_at < joined_before)
    return stmt.order_by(User.display_name, User.id)


@dataclass(frozen=True, slots=True)
class WeekGroup:
    """Members of one department alike in what a week's summary needs of them: the same
    roles, the same of the week's modules passed in time, and either the same start or
    (`created_at` None) a start too long ago for any onboarding week; with their sums."""

    department_id: str
    roles: tuple[str, ...]
    started_on: date | None  # for people who may be in an onboarding week; else None
    created_at: datetime | None  # likewise (None: started long ago)
    passed: int  # bit n set: passed module_ids[n] before the week ended
    people: int
    active: int  # of them, those who completed an attempt in the week
    correct: int  # right answers of the attempts completed in the week
    total: int  # questions of those attempts
    points: int  # earned in the week


# Bits per column of passed modules: SQLite's and PostgreSQL's integers hold 63 and a sign.
_BITS = 62


def week_groups(
    session: Session,
    org_id: str,
    department_ids: Sequence[str],
    *,
    start: datetime,
    end: datetime,
    module_ids: Sequence[str],
    onboarding_since: tuple[date, datetime] | None,
) -> Iterator[WeekGroup]:
    """The members of the departments (a list, not a subtree) in the week [start, end),
    grouped and summed by the database in one statement: a region's ten thousand people come
    back as a few hundred rows, and nothing is done per person in Python.

    `onboarding_since` is (the local date, its first instant) from which a start may still
    be in an onboarding week: people who started on or after it keep their own start in
    their group; everyone before it is grouped without one (None: nobody is)."""

    # Who the members are, repeated in each part rather than shared as a CTE: PostgreSQL
    # plans each part with the users' statistics then (a shared CTE is materialised without
    # them, and the misestimate set off JIT compilation that cost more than the query).
    def members_only(stmt: Any, user_column: Any) -> Any:
        return stmt.join(User, User.id == user_column).where(
            User.org_id == org_id,
            User.active.is_(True),
            _among(session, User.department_id, department_ids),
            User.created_at < end,
        )

    done = members_only(
        select(
            Attempt.user_id,
            func.sum(Attempt.score_correct).label("correct"),
            func.sum(Attempt.questions_total).label("total"),
        ),
        Attempt.user_id,
    )
    done = (
        done.where(
            Attempt.org_id == org_id, Attempt.completed_at >= start, Attempt.completed_at < end
        )
        .group_by(Attempt.user_id)
        .subquery("done")
    )
    earned = members_only(
        select(PointAward.user_id, func.sum(PointAward.points).label("points")),
        PointAward.user_id,
    )
    earned = (
        earned.where(
            PointAward.org_id == org_id, PointAward.earned_at >= start, PointAward.earned_at < end
        )
        .group_by(PointAward.user_id)
        .subquery("earned")
    )
    chunks = [module_ids[n : n + _BITS] for n in range(0, len(module_ids), _BITS)]
    passed = (
        select(
            ModulePass.user_id,
            *(
                func.sum(
                    case(
                        *((ModulePass.module_id == m, 1 << bit) for bit, m in enumerate(chunk)),
                        else_=0,
                    )
                ).label(f"passed{n}")
                for n, chunk in enumerate(chunks)
            ),
        )
        .where(
            _among(session, ModulePass.department_id, department_ids),
            _among(session, ModulePass.module_id, module_ids),
            ModulePass.first_passed_at < end,
        )
        .group_by(ModulePass.user_id)
        .subquery("passed")
    )
    if onboarding_since is None:
        started_on: Any = null()
        created_at: Any = null()
    else:
        since_date, since_instant = onboarding_since
        recent = or_(
            User.started_on >= since_date,
            and_(User.started_on.is_(None), User.created_at >= since_instant),
        )
        started_on = case((recent, User.started_on))
        created_at = case((recent, User.created_at))
    # Per member first (labelled), then grouped by those labels: PostgreSQL does not take
    # an expression with bound parameters in GROUP BY as the one in the select list.
    each = (
        select(
            User.department_id,
            cast(User.roles, Text).label("roles"),
            started_on.label("started_on"),
            created_at.label("created_at"),
            *(
                func.coalesce(passed.c[f"passed{n}"], 0).label(f"passed{n}")
                for n in range(len(chunks))
            ),
            done.c.user_id.label("active"),
            done.c.correct,
            done.c.total,
            earned.c.points,
        )
        .outerjoin(done, done.c.user_id == User.id)
        .outerjoin(earned, earned.c.user_id == User.id)
        .outerjoin(passed, passed.c.user_id == User.id)
        .where(
            User.org_id == org_id,
            User.active.is_(True),
            _among(session, User.department_id, department_ids),
            User.created_at < end,
        )
        .subquery("each")
    )
    key = [
        each.c.department_id,
        each.c.roles,
        each.c.started_on,
        each.c.created_at,
        *(each.c[f"passed{n}"] for n in range(len(chunks))),
    ]
    stmt = select(
        *key,
        func.count(),
        func.count(each.c.active),
        func.coalesce(func.sum(each.c.correct), 0),
        func.coalesce(func.sum(each.c.total), 0),
        func.coalesce(func.sum(each.c.points), 0),
    ).group_by(*key)
    for row in session.execute(stmt):
        bits = 0
        for n in range(len(chunks)):
            bits |= int(row[4 + n]) << (n * _BITS)
        people, active, correct, total, points = row[4 + len(chunks) :]
        yield WeekGroup(
            row[0],
            _roles(row[1]),
            row[2],
            row[3],
            bits,
            int(people),
            int(active),
            int(correct),
            int(total),
            int(points),
        )


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
    stmt = members_statement(session, org_id, department_ids, joined_before=joined_before)
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
                _among(session, User.id, chunk),
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
                _among(session, Attempt.user_id, chunk),
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
            _among(session, PointAward.user_id, chunk), PointAward.earned_at < end
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
                    _among(session, ModulePass.user_id, chunk),
                    _among(session, ModulePass.module_id, module_ids),
                    ModulePass.first_passed_at < before,
                )
            )
        )
    return found


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
                _among(session, Attempt.user_id, chunk),
                _among(session, Attempt.module_id, module_ids),
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
            .where(_among(session, Attempt.user_id, chunk), Attempt.completed_at <= until)
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
                _among(session, Attempt.user_id, chunk),
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
