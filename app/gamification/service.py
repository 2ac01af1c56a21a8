"""The game: paying points by the organisation's rules, levels, streaks and badges.

The ledger (`PointAward`) is append-only and every award has a unique source key, so a retry,
a replayed offline event or a race never pays twice. Leaderboards follow each award after the
commit (`app.leaderboards.service.queue_awards`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.db import insert_for, new_id
from app.gamification import badges as badge_defs
from app.gamification import rules
from app.gamification.models import EarnedBadge, LearningDay, PlayerProfile, PointAward
from app.gamification.rules import Level, level_for
from app.interop import service as xapi
from app.leaderboards import service as leaderboards
from app.learning.models import Answer, Attempt
from app.orgs.models import User
from app.pagination import paginate
from app.paths import service as paths

if TYPE_CHECKING:
    from app.auth.principal import UserFactsLike


def _insert(session: Session) -> Any:
    return insert_for(session.get_bind().dialect.name)


def _user_zone(user: User) -> ZoneInfo:
    return ZoneInfo(user.timezone or user.organization.timezone)


# --- the ledger -------------------------------------------------------------------------------


def award_points(
    session: Session,
    *,
    user: UserFactsLike,
    points: int,
    reason: str,
    source_key: str,
    earned_at: datetime,
    now: datetime,
    module_id: str | None = None,
) -> int:
    """Append one award unless its source already paid (or the daily cap is reached).

    Returns the points actually awarded; the boards get them after the commit.
    """
    cap = rules.points_rules(user.organization.settings)["daily_cap"]
    if cap is not None and points > 0:
        points = rules.capped(
            points, earned_today=_earned_on_day(session, user, earned_at), daily_cap=cap
        )
    return _append_awards(
        session,
        user=user,
        pays=[rules.AnswerPay(points, reason, source_key)],
        module_id=module_id,
        earned_at=earned_at,
        now=now,
    )


_awards = PointAward.__table__


@cache
def _append_statement(dialect_name: str) -> Any:
    # Built once per dialect, so SQLAlchemy reuses its compiled form; Core, not the ORM: the
    # answer path's statements are most of its CPU. RETURNING tells which rows went in.
    return (
        insert_for(dialect_name)(_awards)
        .on_conflict_do_nothing(index_elements=["user_id", "source_key"])
        .returning(_awards.c.points)
    )


def _append_awards(
    session: Session,
    *,
    user: UserFactsLike,
    pays: list[rules.AnswerPay],
    module_id: str | None,
    earned_at: datetime,
    now: datetime,
) -> int:
    """Append the awards (all earned at one moment) in one statement, skipping every source
    that already paid; returns the points that went in, queued for the boards."""
    rows = [
        {
            "id": new_id(),
            "org_id": user.org_id,
            "user_id": user.id,
            "department_id": user.department_id,
            "points": pay.points,
            "reason": pay.reason[:200],
            "source_key": pay.source,
            "module_id": module_id,
            "earned_at": earned_at,
            "created_at": now,
        }
        for pay in pays
        if pay.points > 0
    ]
    if not rows:
        return 0
    connection = session.connection()
    paid = sum(connection.execute(_append_statement(connection.dialect.name), rows).scalars())
    if paid:
        # Awards of one moment move the boards exactly as their sum does.
        leaderboards.queue_award(
            session,
            org_id=user.org_id,
            org_timezone=user.organization.timezone,
            user_id=user.id,
            department_id=user.department_id,
            points=paid,
            earned_at=earned_at,
            now=now,
        )
    return paid


def _earned_on_day(session: Session, user: UserFactsLike, moment: datetime) -> int:
    # The cap's day is the organisation's, like the boards'.
    zone = ZoneInfo(user.organization.timezone)
    local = moment.astimezone(zone).date()
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    end = datetime.combine(local + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return int(
        session.scalar(
            select(func.coalesce(func.sum(PointAward.points), 0)).where(
                PointAward.user_id == user.id,
                PointAward.earned_at >= start,
                PointAward.earned_at < end,
            )
        )
        or 0
    )


def pay_for_answer(
    session: Session,
    *,
    user: UserFactsLike,
    module_id: str,
    question_id: str,
    nth_correct: int,
    first_try: bool,
    earned_at: datetime,
    now: datetime,
) -> int:
    """Pay a just-recorded correct answer by the organisation's rules; returns the points paid.

    `nth_correct`: which correct answer of its attempt this is; `first_try`: whether the user
    had never completed the module. Only correct answers beyond your best result on the module
    pay; the first-try bonus is for questions answered right before you ever completed it.
    """
    points_rules = rules.points_rules(user.organization.settings)
    pays = rules.answer_payments(
        points_rules,
        module_id=module_id,
        question_id=question_id,
        nth_correct=nth_correct,
        first_try=first_try,
    )
    if points_rules["daily_cap"] is not None:
        # Under a cap each award is cut by what the ones before it actually paid.
        return _award_each(
            session, user=user, pays=pays, module_id=module_id, earned_at=earned_at, now=now
        )
    return _append_awards(
        session, user=user, pays=pays, module_id=module_id, earned_at=earned_at, now=now
    )


def _award_each(
    session: Session,
    *,
    user: UserFactsLike,
    pays: Iterable[rules.AnswerPay],
    module_id: str,
    earned_at: datetime,
    now: datetime,
) -> int:
    """Award the payments one by one (each under the daily cap as the ones before left it);
    returns the points that went in."""
    return sum(
        award_points(
            session,
            user=user,
            points=pay.points,
            reason=pay.reason,
            source_key=pay.source,
            module_id=module_id,
            earned_at=earned_at,
            now=now,
        )
        for pay in pays
    )


def pay_for_completion(
    session: Session,
    *,
    user: User,
    module_id: str,
    correct: int,
    total: int,
    finished: bool,
    earned_at: datetime,
    now: datetime,
    locale: str | None = None,
) -> dict[str, Any]:
    """Pay the completion and perfect-score bonuses, count the learning day, check badges
    (their titles in `locale`, else the user's language) — all only for a `finished` attempt
    (every question answered): an attempt completed short of that earns nothing.

    Returns what `complete` answers with: points_awarded, points_total, level, streak, new_badges.
    The attempt must already be marked completed (badge facts count it).
    """
    paid = 0
    new_badges: list[dict[str, str]] = []
    if finished:
        pays = rules.completion_payments(
            rules.points_rules(user.organization.settings),
            module_id=module_id,
            correct=correct,
            total=total,
        )
        paid = _award_each(
            session, user=user, pays=pays, module_id=module_id, earned_at=earned_at, now=now
        )
        record_learning_day(session, user=user, at=earned_at)
    streak = streak_of(session, user, now)
    if finished:
        new_badges = check_counter_badges(
            session, user=user, streak_days=streak["current"], now=now, locale=locale
        )
        path_module_ids = current_week_path_module_ids(session, user, now)
        if path_module_ids:
            new_badges += check_path_badges(
                session, user=user, path_module_ids=path_module_ids, now=now, locale=locale
            )
    summary = points_summary(session, user, now)
    level = level_of(summary["total"])
    return {
        "points_awarded": paid,
        "points_total": summary["total"],
        "level": {"number": level.number, "points_to_next": level.points_to_next},
        "streak": streak,
        "new_badges": new_badges,
    }


def my_points(
    session: Session, *, user: User, limit: int, cursor: str | None, locale: str | None
) -> dict[str, Any]:
    """My ledger, newest first, each reason in my language (`GET /me/points`)."""
    page = paginate(
        session,
        select(PointAward).where(PointAward.user_id == user.id),
        key=PointAward.id,
        limit=limit,
        cursor=cursor,
        newest_first=True,
    )
    return {
        "items": [
            {
                "id": award.id,
                "points": award.points,
                "reason": rules.reason_text(award.reason, locale),
                "earned_at": award.earned_at,
                "module_id": award.module_id,
            }
            for award in page.items
        ],
        "next_cursor": page.next_cursor,
    }


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


# --- streaks ----------------------------------------------------------------------------------


def record_learning_day(session: Session, *, user: User, at: datetime) -> None:
    """Count the user's local day of `at` for the streak (a completed module or review).

    Safe to call any number of times a day. The reviews domain calls this after a review.
    """
    day = at.astimezone(_user_zone(user)).date()
    session.execute(
        _insert(session)(LearningDay)
        .values(id=new_id(), user_id=user.id, day=day, first_at=at)
        .on_conflict_do_nothing(index_elements=["user_id", "day"])
    )


def learning_days(session: Session, user_id: str) -> list[date]:
    return list(
        session.scalars(
            select(LearningDay.day).where(LearningDay.user_id == user_id).order_by(LearningDay.day)
        )
    )


def streak_of(session: Session, user: User, now: datetime) -> dict[str, int]:
    """Current and longest streak and banked freezes, in the user's time zone."""
    settings = rules.streak_rules(user.organization.settings)
    streak = rules.compute_streak(
        learning_days(session, user.id), now.astimezone(_user_zone(user)).date(), **settings
    )
    return {"current": streak.current, "longest": streak.longest, "freezes": streak.freezes}


# --- badges -----------------------------------------------------------------------------------


def _badge_locale(user: User, locale: str | None) -> str:
    """The language of badge titles: the caller's (`app.languages`), else the user's own."""
    return locale or user.locale or user.organization.default_locale


def _badge_view(code: str, earned_at: datetime, locale: str | None) -> dict[str, str]:
    badge = badge_defs.BY_CODE[code]
    return {
        "code": code,
        "title": badge_defs.localized(badge.title, locale),
        "earned_at": earned_at.isoformat(),
    }


def grant_badges(
    session: Session, *, users: Iterable[User], code: str, period: str, now: datetime
) -> list[str]:
    """Give badge `code` for `period` to each user who lacks it; returns ids of new holders."""
    new: list[str] = []
    for user in users:
        inserted = session.execute(
            _insert(session)(EarnedBadge)
            .values(
                id=new_id(),
                org_id=user.org_id,
                user_id=user.id,
                code=code,
                period=period,
                earned_at=now,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "code", "period"])
            .returning(EarnedBadge.id)
        ).scalar()
        if inserted is not None:
            new.append(user.id)
            xapi.badge_earned(session, user=user, code=code, earned_at=now, now=now)
    return new


def badge_facts(session: Session, user: User, streak_days: int) -> badge_defs.Facts:
    """The counters the badge criteria look at, in one query."""
    done = and_(Attempt.user_id == user.id, Attempt.completed_at.is_not(None))
    # A module counts once an attempt on it answered every question (any score).
    finished = and_(done, Attempt.questions_answered >= Attempt.questions_total)
    modules, perfect, correct = session.execute(
        select(
            select(func.count(func.distinct(Attempt.module_id))).where(finished).scalar_subquery(),
            select(func.count())
            .where(done, Attempt.questions_total > 0)
            .where(Attempt.score_correct == Attempt.questions_total)
            .scalar_subquery(),
            select(func.count())
            .select_from(Answer)
            .join(Attempt, Attempt.id == Answer.attempt_id)
            .where(Attempt.user_id == user.id, Answer.correct.is_(True))
            .scalar_subquery(),
        )
    ).one()
    return badge_defs.Facts(
        modules_completed=int(modules),
        perfect_scores=int(perfect),
        correct_answers=int(correct),
        streak_days=streak_days,
    )


def check_counter_badges(
    session: Session, *, user: User, streak_days: int, now: datetime, locale: str | None = None
) -> list[dict[str, str]]:
    """Award the once-ever badges the user now qualifies for; returns the new ones."""
    held = set(
        session.scalars(
            select(EarnedBadge.code).where(EarnedBadge.user_id == user.id, EarnedBadge.period == "")
        )
    )
    candidates = [
        b.code
        for b in badge_defs.BADGES
        if b.kind in badge_defs.COUNTER_KINDS and b.code not in held
    ]
    if not candidates:
        return []
    due = set(badge_defs.counter_badges_due(badge_facts(session, user, streak_days)))
    new: list[dict[str, str]] = []
    for code in candidates:
        if code in due and grant_badges(session, users=[user], code=code, period="", now=now):
            new.append(_badge_view(code, now, _badge_locale(user, locale)))
    return new


def week_key(moment: datetime, timezone: str) -> str:
    iso = moment.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def current_week_path_module_ids(session: Session, user: User, now: datetime) -> set[str]:
    """The module ids of the user's mandatory paths this week (the paths domain decides)."""
    return paths.mandatory_module_ids(session, user=user, now=now)


def check_path_badges(
    session: Session,
    *,
    user: User,
    path_module_ids: set[str],
    now: datetime,
    locale: str | None = None,
) -> list[dict[str, str]]:
    """The week's path badges, given the module ids of the user's current-week mandatory paths.

    `weekly_path` when the user has passed all of them; `department_weekly_path` for every
    active member of the user's department once all of them have. The paths domain owns what
    "this week's mandatory modules" are; this function only judges them done (passed, as the
    path counts them).
    """
    if not path_module_ids:
        return []
    week = week_key(now, user.organization.timezone)

    def completed_all(user_ids: list[str]) -> set[str]:
        rows = session.execute(
            select(Attempt.user_id, func.count(func.distinct(Attempt.module_id)))
            .where(
                Attempt.user_id.in_(user_ids),
                Attempt.module_id.in_(path_module_ids),
                Attempt.passed.is_(True),
            )
            .group_by(Attempt.user_id)
        )
        return {uid for uid, count in rows if count >= len(path_module_ids)}

    if user.id not in completed_all([user.id]):
        return []
    locale = _badge_locale(user, locale)
    new = [
        _badge_view("weekly_path", now, locale)
        for _ in grant_badges(session, users=[user], code="weekly_path", period=week, now=now)
    ]
    if user.department_id:
        members = list(
            session.scalars(
                select(User).where(User.department_id == user.department_id, User.active.is_(True))
            )
        )
        if members and len(completed_all([m.id for m in members])) == len(members):
            granted = grant_badges(
                session, users=members, code="department_weekly_path", period=week, now=now
            )
            if user.id in granted:
                new.append(_badge_view("department_weekly_path", now, locale))
    return new


def my_badges(
    session: Session, user: User, now: datetime, locale: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Badges I earned (newest first) and those still open to me (`GET /me/badges`)."""
    locale = _badge_locale(user, locale)
    earned = session.execute(
        select(EarnedBadge.code, EarnedBadge.period, EarnedBadge.earned_at)
        .where(EarnedBadge.user_id == user.id)
        .order_by(EarnedBadge.earned_at.desc(), EarnedBadge.id.desc())
    ).all()
    this_week = week_key(now, user.organization.timezone)
    done = {
        code
        for code, period, _ in earned
        if period == "" or period == this_week or badge_defs.BY_CODE[code].kind == "competition_won"
    }
    return {
        "earned": [
            {**_badge_view(code, earned_at, locale), "period": period or None}
            for code, period, earned_at in earned
            if code in badge_defs.BY_CODE
        ],
        "available": [
            {
                "code": badge.code,
                "title": badge_defs.localized(badge.title, locale),
                "description": badge_defs.localized(badge.description, locale),
            }
            for badge in badge_defs.BADGES
            if badge.code not in done
        ],
    }


# --- settings ---------------------------------------------------------------------------------

VISIBILITIES = ("everyone", "department")


def leaderboard_visibility(session: Session, user_id: str) -> str:
    profile = session.get(PlayerProfile, user_id)
    return profile.leaderboard_visibility if profile else "everyone"


def set_leaderboard_visibility(session: Session, *, user: User, visibility: str) -> None:
    """Choose whether my name shows on boards outside my department (`PATCH /me`)."""
    profile = session.get(PlayerProfile, user.id)
    if profile is None:
        session.add(PlayerProfile(user_id=user.id, leaderboard_visibility=visibility))
    else:
        profile.leaderboard_visibility = visibility
    session.flush()
