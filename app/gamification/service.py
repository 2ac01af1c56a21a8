"""The points ledger: awarding (exactly once per source) and reading totals."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import new_id
from app.gamification.models import PointAward
from app.gamification.rules import Level, level_for
from app.orgs.models import User


def award_points(
    session: Session,
    *,
    user: User,
    points: int,
    reason: str,
    source_key: str,
    earned_at: datetime,
    now: datetime,
    module_id: str | None = None,
) -> int:
    """Append one award unless its source already paid; returns the points actually awarded."""
    if points <= 0:
        return 0
    values: dict[str, Any] = {
        "id": new_id(),
        "org_id": user.org_id,
        "user_id": user.id,
        "department_id": user.department_id,
        "points": points,
        "reason": reason,
        "source_key": source_key,
        "module_id": module_id,
        "earned_at": earned_at,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(PointAward)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["user_id", "source_key"])
        .returning(PointAward.id)
    )
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    inserted = session.execute(stmt).first()
    return points if inserted is not None else 0


def total_points(session: Session, user_id: str) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(PointAward.points), 0)).where(
                PointAward.user_id == user_id
            )
        )
        or 0
    )


def week_start_utc(now: datetime, timezone: str) -> datetime:
    """The Monday 00:00 of `now`'s ISO week in `timezone`, as an aware datetime."""
    local = now.astimezone(ZoneInfo(timezone))
    monday = (local - timedelta(days=local.weekday())).date()
    return datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo(timezone))


def points_summary(session: Session, user: User, now: datetime) -> dict[str, int]:
    """Total points and this week's (the organisation's week), in one query."""
    since = week_start_utc(now, user.organization.timezone)
    total, this_week = session.execute(
        select(
            func.coalesce(func.sum(PointAward.points), 0),
            func.coalesce(func.sum(PointAward.points).filter(PointAward.earned_at >= since), 0),
        ).where(PointAward.user_id == user.id)
    ).one()
    return {"total": int(total), "this_week": int(this_week)}


def level_of(total: int) -> Level:
    return level_for(total)


def streak_of(session: Session, user: User, now: datetime) -> dict[str, int]:
    """Current and longest run of days with learning, in the user's time zone."""
    from app.gamification.rules import streak_from_days
    from app.learning.models import Attempt

    timezone = ZoneInfo(user.timezone or user.organization.timezone)
    completions = session.scalars(
        select(Attempt.completed_at).where(
            Attempt.user_id == user.id, Attempt.completed_at.is_not(None)
        )
    )
    days = {moment.astimezone(timezone).date() for moment in completions if moment is not None}
    current, longest = streak_from_days(days, now.astimezone(timezone).date())
    return {"current": current, "longest": longest, "freezes": 0}
