"""Pure scheduling rules: quiet hours, local times, backoff, caps. `now` is always passed in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.outbox import rules as outbox_rules

DEFAULT_DAILY_CAP = 3
DEFAULT_STREAK_REMINDER = time(19, 0)
STREAK_REMINDER_LATEST = time(22, 0)  # after this a "keep your streak" push is more nag than help
DEFAULT_WEEKLY_PATH_TIME = time(8, 0)
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(local: time, start: time | None, end: time | None) -> bool:
    """Whether a local wall-clock time falls in [start, end); the span may cross midnight."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time (one skipped by DST lands after the gap)."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz)
    # Round-tripping through UTC normalises a non-existent local time (spring forward).
    return aware.astimezone(UTC)


def next_allowed(moment: datetime, tz: ZoneInfo, start: time | None, end: time | None) -> datetime:
    """`moment`, or the end of the quiet hours it falls in (as UTC)."""
    local = moment.astimezone(tz)
    if not in_quiet_hours(local.time(), start, end):
        return moment
    assert start is not None and end is not None
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)  # quiet since this evening: it ends tomorrow morning
    allowed = local_moment(day, end, tz)
    return max(allowed, moment)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def end_of_local_day(moment: datetime, tz: ZoneInfo) -> datetime:
    """The next local midnight after `moment`, as UTC."""
    return local_moment(local_day(moment, tz) + timedelta(days=1), time(0, 0), tz)


def streak_reminder_due(now: datetime, tz: ZoneInfo, *, at: time = DEFAULT_STREAK_REMINDER) -> bool:
    """Whether it is the streak-at-risk evening window in this time zone."""
    local = now.astimezone(tz).time()
    return at <= local < STREAK_REMINDER_LATEST


def streak_at_risk(last_learned: datetime | None, now: datetime, tz: ZoneInfo) -> bool:
    """Learned yesterday (local) but not yet today: the streak ends at midnight."""
    if last_learned is None:
        return False
    return local_day(last_learned, tz) == local_day(now, tz) - timedelta(days=1)


def week_start_push_at(
    now: datetime, tz: ZoneInfo, *, at: time = DEFAULT_WEEKLY_PATH_TIME
) -> datetime:
    """Monday `at` local time of the ISO week `now` falls in (local), as UTC."""
    today = local_day(now, tz)
    monday = today - timedelta(days=today.weekday())
    return local_moment(monday, at, tz)


def iso_week(moment: datetime, tz: ZoneInfo) -> str:
    year, week, _ = local_day(moment, tz).isocalendar()
    return f"{year}-W{week:02d}"


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the n-th failed attempt (1-based): 30 s, 1 min, 2 min ... 1 h."""
    return outbox_rules.retry_delay(attempts, base=RETRY_BASE_SECONDS, cap=RETRY_MAX_SECONDS)


def daily_cap(org_settings: dict[str, Any] | None) -> int:
    """Pushes per user per local day the organisation allows."""
    notifications = (org_settings or {}).get("notifications") or {}
    value = notifications.get("daily_cap", DEFAULT_DAILY_CAP)
    return max(int(value), 0)


def reminder_time(org_settings: dict[str, Any] | None, key: str, default: time) -> time:
    """An organisation's override of a reminder's local time ("HH:MM")."""
    notifications = (org_settings or {}).get("notifications") or {}
    value = notifications.get(key)
    return parse_hhmm(value) if isinstance(value, str) else default
