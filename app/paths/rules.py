"""Week arithmetic, unlocking and competence requirement status as pure functions.

A "week" is an ISO week string (`2026-W48`) in the organisation's time zone. Nothing here reads
the clock or the database: `now` and time zones are passed in.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")


FIRST_YEAR, LAST_YEAR = 1900, 8999


def parse_week(week: str) -> tuple[int, int]:
    """(ISO year, ISO week) of `2026-W48`; ValueError for a malformed or non-existent week."""
    match = WEEK_PATTERN.match(week)
    if not match:
        raise ValueError("Use an ISO week such as 2026-W48.")
    year, number = int(match.group(1)), int(match.group(2))
    # Far from Python's last date, so a week's span or the weeks after it cannot overflow.
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"Use a week between the years {FIRST_YEAR} and {LAST_YEAR}.")
    if not 1 <= number <= weeks_in_year(year):
        raise ValueError(f"{year} has no week {number}.")
    return year, number


def weeks_in_year(year: int) -> int:
    """52 or 53: an ISO year has week 53 when 28 December falls in it."""
    return date(year, 12, 28).isocalendar().week


def format_week(year: int, number: int) -> str:
    return f"{year:04d}-W{number:02d}"


def week_of_date(day: date) -> str:
    iso = day.isocalendar()
    return format_week(iso.year, iso.week)


def week_of(moment: datetime, timezone: str) -> str:
    """The ISO week that `moment` falls in, on the wall clock of `timezone`."""
    return week_of_date(moment.astimezone(ZoneInfo(timezone)).date())


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def week_dates(week: str) -> tuple[date, date]:
    """(Monday, Sunday) of the week."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    return monday, monday + timedelta(days=6)


def add_weeks(week: str, count: int) -> str:
    monday, _ = week_dates(week)
    return week_of_date(monday + timedelta(weeks=count))


def local_midnight(day: date, timezone: str) -> datetime:
    """00:00 of `day` in `timezone`, as an aware UTC datetime (DST safe)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def week_span_utc(week: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of the week in UTC: Monday 00:00 to the next Monday 00:00, local time."""
    monday, _ = week_dates(week)
    return local_midnight(monday, timezone), local_midnight(monday + timedelta(days=7), timezone)


def onboarding_week_number(started_on: date, week: str) -> int:
    """Which week of employment `week` is for someone who started on `started_on`: the week
    they started is 1, the next 2; weeks before the start are 0 or negative."""
    start_monday = started_on - timedelta(days=started_on.weekday())
    monday, _ = week_dates(week)
    return (monday - start_monday).days // 7 + 1


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus calendar months, clamping the day (31 Jan + 1 month = 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


# --- unlocking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathStep:
    module_id: str
    mandatory: bool


def sequential_locks(steps: Sequence[PathStep], completed: set[str]) -> dict[str, str | None]:
    """For a sequential path: module id -> the module that must be completed first, or None.

    Every module after the first one not completed is locked behind it.
    """
    locks: dict[str, str | None] = {}
    blocker: str | None = None
    for step in steps:
        locks[step.module_id] = blocker
        if blocker is None and step.module_id not in completed:
            blocker = step.module_id
    return locks


class Blocker(NamedTuple):
    """A module to pass before another opens: by prerequisite (`path_title` None) or as the
    step before it in a sequential path."""

    module_id: str
    title: str
    path_title: str | None


_FIRST = {
    "nb": "Fullfør dette først: {}.",
    "nn": "Fullfør dette først: {}.",
    "en": "Finish first: {}.",
}
_QUOTED = {"nb": "«{}»", "nn": "«{}»", "en": "“{}”"}
_IN_PATH = {"nb": "{} i {}", "nn": "{} i {}", "en": "{} in {}"}


def lock_sentence(blockers: Sequence[Blocker], locale: str) -> str:
    """Why a module is locked, as one sentence in `locale` (nb, nn, en; else English)."""
    texts = locale if locale in _FIRST else "en"
    quoted = _QUOTED[texts].format
    parts = list(
        dict.fromkeys(
            _IN_PATH[texts].format(quoted(b.title), quoted(b.path_title))
            if b.path_title
            else quoted(b.title)
            for b in blockers
        )
    )
    return _FIRST[texts].format(", ".join(parts))


def locked_by_paths(path_locks: Iterable[str | None]) -> bool:
    """A module is locked only if every current path that includes it locks it."""
    locks = list(path_locks)
    return bool(locks) and None not in locks


def module_status(*, completed: bool, started: bool, locked: bool) -> str:
    """`completed` whatever the score; an attempt under way stays `in_progress` even if locked."""
    if completed:
        return "completed"
    if started:
        return "in_progress"
    return "locked" if locked else "available"


# --- competence requirements -----------------------------------------------------------------


@dataclass(frozen=True)
class RequirementState:
    status: str  # valid | expiring | expired | missing
    valid_until: datetime | None
    due_at: datetime | None


def requirement_state(
    *,
    last_passed_at: datetime | None,
    validity_months: int | None,
    assigned_at: datetime,
    due_within_days: int,
    expiring_window_days: int,
    now: datetime,
) -> RequirementState:
    """Where one learner stands on one requirement.

    Missing: never passed, due `due_within_days` after it applied to them. Passed with a
    validity: valid until then, `expiring` inside the window before, `expired` after.
    """
    if last_passed_at is None:
        return RequirementState("missing", None, assigned_at + timedelta(days=due_within_days))
    if validity_months is None:
        return RequirementState("valid", None, None)
    valid_until = add_months(last_passed_at, validity_months)
    if valid_until <= now:
        status = "expired"
    elif valid_until <= now + timedelta(days=expiring_window_days):
        status = "expiring"
    else:
        status = "valid"
    return RequirementState(status, valid_until, valid_until)


def needs_training(state: RequirementState) -> bool:
    """Requirements that go into the learner's current path as mandatory."""
    return state.status in ("missing", "expiring", "expired")
