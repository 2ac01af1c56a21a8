"""Periods, composite scores and board ranking as pure functions (time zones passed in).

A board member's Redis score is `points * FACTOR + ticks left in the period at the moment the
member reached those points`. Higher points win; on equal points the earlier achiever has more
ticks left and wins. Every value stays an integer well under 2^53, so a double holds it exactly.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

WINDOWS = ("week", "month", "all_time")
ALL = "all"
# The all-time "period" runs 1970..2200 in ticks of an hour, so they fit the factor (about 2.0M).
END_OF_ALL_TIME = datetime(2200, 1, 1, tzinfo=UTC)
TICK_SECONDS = {"week": 1, "month": 1, "all_time": 3600}
# 2^20 s > 169 h (a week with a DST hour); 2^22 s > 31 days + 1 h; 2^21 h > 1970..2200.
FACTOR = {"week": 2**20, "month": 2**22, "all_time": 2**21}
MAX_POINTS = {window: 2**53 // factor - 1 for window, factor in FACTOR.items()}

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    window: str
    key: str  # 2026-W48, 2026-11 or all
    start: datetime  # aware UTC, inclusive
    end: datetime  # aware UTC, exclusive


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    # Midnight exists in every zone we serve; zoneinfo resolves DST for that wall time.
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


# Every board read asks for the current period: the few periods in use are kept.
@functools.lru_cache(maxsize=1024)
def _week_period(monday: date, tz: ZoneInfo) -> Period:
    iso = monday.isocalendar()
    return Period(
        "week",
        f"{iso.year}-W{iso.week:02d}",
        _local_midnight(monday, tz),
        _local_midnight(monday + timedelta(days=7), tz),
    )


@functools.lru_cache(maxsize=1024)
def _month_period(year: int, month: int, tz: ZoneInfo) -> Period:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return Period(
        "month",
        f"{year}-{month:02d}",
        _local_midnight(first, tz),
        _local_midnight(following, tz),
    )


def period_at(window: str, moment: datetime, timezone: str) -> Period:
    """The period of `window` that contains `moment`, in the organisation's time zone."""
    tz = ZoneInfo(timezone)
    if window == "all_time":
        return Period("all_time", ALL, datetime(1970, 1, 1, tzinfo=UTC), END_OF_ALL_TIME)
    local = moment.astimezone(tz).date()
    if window == "week":
        return _week_period(local - timedelta(days=local.weekday()), tz)
    if window == "month":
        return _month_period(local.year, local.month, tz)
    raise ValueError(f"unknown window {window!r}")


# Boards hold points earned from 1970 up to the end of all time (their ticks fit no more):
# a period outside is no board, and its start or end could overflow Python's dates.
FIRST_YEAR, LAST_YEAR = 1970, END_OF_ALL_TIME.year - 1


def parse_period(window: str, text: str, timezone: str) -> Period:
    """A period named by the client; ValueError with a readable message when it is not one."""
    tz = ZoneInfo(timezone)
    year = text[:4]
    if window != "all_time" and year.isdigit() and not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise ValueError(f"Boards cover the years {FIRST_YEAR} to {LAST_YEAR}.")
    if window == "all_time":
        if text != ALL:
            raise ValueError("The all_time window has one period: all.")
        return period_at("all_time", END_OF_ALL_TIME, timezone)
    if window == "week":
        match = _WEEK.match(text)
        if not match:
            raise ValueError("Use an ISO week such as 2026-W48.")
        try:
            monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise ValueError(f"{text} is not a week of that year.") from None
        return _week_period(monday, tz)
    if window == "month":
        match = _MONTH.match(text)
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
            raise ValueError("Use a month such as 2026-11.")
        return _month_period(int(match[1]), int(match[2]), tz)
    raise ValueError(f"unknown window {window!r}")


def ticks_left(period: Period, reached_at: datetime) -> int:
    """Whole ticks from `reached_at` to the end of the period (more = earlier)."""
    tick = TICK_SECONDS[period.window]
    # Whole ticks elapsed since the start (floored), so one tick is one clock hour or second.
    total = int((period.end - period.start).total_seconds() // tick)
    elapsed = int((reached_at - period.start).total_seconds() // tick)
    return max(0, min(total - elapsed, FACTOR[period.window] - 1))


def composite(window: str, points: int, ticks: int) -> int:
    return min(points, MAX_POINTS[window]) * FACTOR[window] + ticks


def split(window: str, score: float) -> tuple[int, int]:
    """(points, ticks) from a composite score."""
    value = int(score)
    return value // FACTOR[window], value % FACTOR[window]


@dataclass(frozen=True)
class Award:
    """What a board needs of a ledger row."""

    user_id: str
    department_id: str | None
    points: int
    earned_at: datetime


def board_keys(
    award: Award, org_tz: str, lineage: tuple[str, ...] | None = None
) -> list[tuple[Period, str, str]]:
    """(period, board name, member) for every board one award counts on. `lineage`: the
    award's department and every department above it, nearest first (default: the department
    alone): a department's boards roll up everything earned below it."""
    departments = lineage or ((award.department_id,) if award.department_id else ())
    keys: list[tuple[Period, str, str]] = []
    for window in WINDOWS:
        period = period_at(window, award.earned_at, org_tz)
        keys.append((period, "users:org", award.user_id))
        for department_id in departments:
            keys.append((period, f"users:dept:{department_id}", award.user_id))
            keys.append((period, "depts", department_id))
    return keys


class Standing(NamedTuple):
    member: str
    points: int
    reached_at: datetime


def tally(
    awards: Iterable[Award],
    org_tz: str,
    lineage: Callable[[str], tuple[str, ...]] | None = None,
) -> dict[tuple[str, str, str], dict[str, Standing]]:
    """Every board from scratch: {(window, period key, board): {member: Standing}}; an award
    counts for its department and every department `lineage` names above it (`board_keys`).

    The hot loop of a rebuild (a million ledger rows): period keys are cached per local day and
    totals kept in plain lists until the end.
    """
    zone = ZoneInfo(org_tz)
    keys_by_day: dict[date, tuple[tuple[str, str], ...]] = {}
    totals: dict[tuple[str, str, str], dict[str, list[Any]]] = {}
    for award in awards:
        if award.points <= 0:
            continue
        day = award.earned_at.astimezone(zone).date()
        periods = keys_by_day.get(day)
        if periods is None:
            iso = day.isocalendar()
            periods = (
                ("week", f"{iso.year}-W{iso.week:02d}"),
                ("month", f"{day.year}-{day.month:02d}"),
                ("all_time", ALL),
            )
            keys_by_day[day] = periods
        members = [("users:org", award.user_id)]
        if award.department_id:
            members.append((f"users:dept:{award.department_id}", award.user_id))
            members.append(("depts", award.department_id))
        for window, period_key in periods:
            for board, member in members:
                board_totals = totals.get((window, period_key, board))
                if board_totals is None:
                    board_totals = totals[(window, period_key, board)] = {}
                slot = board_totals.get(member)
                if slot is None:
                    board_totals[member] = [award.points, award.earned_at]
                else:
                    slot[0] += award.points
                    if award.earned_at > slot[1]:
                        slot[1] = award.earned_at
    if lineage is not None:
        _roll_up(totals, lineage)
    return {
        board: {member: Standing(member, slot[0], slot[1]) for member, slot in members_.items()}
        for board, members_ in totals.items()
    }


_USERS_DEPT = "users:dept:"


def _roll_up(
    totals: dict[tuple[str, str, str], dict[str, list[Any]]],
    lineage: Callable[[str], tuple[str, ...]],
) -> None:
    """Add each department's own standings to the boards of the departments above it, once
    per (board, member) rather than once per award: a rebuild's awards outnumber them."""

    def add(key: tuple[str, str, str], member: str, points: int, reached: datetime) -> None:
        board_totals = totals.get(key)
        if board_totals is None:
            board_totals = totals[key] = {}
        slot = board_totals.get(member)
        if slot is None:
            board_totals[member] = [points, reached]
        else:
            slot[0] += points
            if reached > slot[1]:
                slot[1] = reached

    own = [
        (key, [(member, slot[0], slot[1]) for member, slot in members.items()])
        for key, members in totals.items()
        if key[2] == "depts" or key[2].startswith(_USERS_DEPT)
    ]
    for (window, period_key, board), members in own:
        if board == "depts":
            for department_id, points, reached in members:
                for above in lineage(department_id)[1:]:
                    add((window, period_key, "depts"), above, points, reached)
        else:
            for above in lineage(board[len(_USERS_DEPT) :])[1:]:
                key = (window, period_key, _USERS_DEPT + above)
                for user_id, points, reached in members:
                    add(key, user_id, points, reached)


def ranked(window: str, period: Period, standings: Iterable[Standing]) -> list[tuple[str, int]]:
    """(member, composite score) best first, ordered exactly as Redis ZREVRANGE orders them."""
    scored = [
        (m.member, composite(window, m.points, ticks_left(period, m.reached_at))) for m in standings
    ]
    # Redis breaks equal scores by member, and ZREVRANGE reverses that too.
    return sorted(scored, key=lambda item: (item[1], item[0]), reverse=True)
