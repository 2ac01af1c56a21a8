"""Quiet hours and scheduling rules as tables: midnight spans, DST, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.notifications import rules
from app.notifications.messages import pick_locale, render

OSLO = ZoneInfo("Europe/Oslo")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("local", "start", "end", "quiet"),
    [
        ("12:00", "22:00", "07:00", False),
        ("22:00", "22:00", "07:00", True),  # start is inclusive
        ("23:59", "22:00", "07:00", True),
        ("00:00", "22:00", "07:00", True),
        ("06:59", "22:00", "07:00", True),
        ("07:00", "22:00", "07:00", False),  # end is exclusive
        ("13:00", "12:00", "14:00", True),  # a daytime sleep after a night shift
        ("14:00", "12:00", "14:00", False),
        ("11:59", "12:00", "14:00", False),
        ("03:00", "08:00", "08:00", False),  # start == end: no quiet hours
        ("03:00", None, None, False),
    ],
)
def test_in_quiet_hours(local: str, start: str | None, end: str | None, quiet: bool) -> None:
    parse = rules.parse_hhmm
    assert rules.in_quiet_hours(parse(local), start and parse(start), end and parse(end)) is quiet


@pytest.mark.parametrize(
    ("moment", "tz", "start", "end", "expected"),
    [
        # Outside quiet hours: unchanged.
        (utc(2026, 11, 25, 10, 0), OSLO, "22:00", "07:00", utc(2026, 11, 25, 10, 0)),
        # 23:30 Oslo (UTC+1) -> 07:00 next morning.
        (utc(2026, 11, 25, 22, 30), OSLO, "22:00", "07:00", utc(2026, 11, 26, 6, 0)),
        # 02:00 Oslo, after midnight -> 07:00 the same morning.
        (utc(2026, 11, 26, 1, 0), OSLO, "22:00", "07:00", utc(2026, 11, 26, 6, 0)),
        # Daytime sleep 12-14 -> 14:00 that day.
        (utc(2026, 11, 25, 11, 30), OSLO, "12:00", "14:00", utc(2026, 11, 25, 13, 0)),
        # New York (UTC-5): 23:00 local -> 07:00 local = 12:00 UTC.
        (utc(2026, 11, 26, 4, 0), NEW_YORK, "22:00", "07:00", utc(2026, 11, 26, 12, 0)),
        # Kolkata (UTC+5:30): 22:30 local -> 07:00 local = 01:30 UTC.
        (utc(2026, 11, 25, 17, 0), KOLKATA, "22:00", "07:00", utc(2026, 11, 26, 1, 30)),
        # DST starts in Oslo on 2026-03-29 (02:00 -> 03:00): quiet until 07:00 CEST = 05:00 UTC.
        (utc(2026, 3, 28, 23, 0), OSLO, "23:00", "07:00", utc(2026, 3, 29, 5, 0)),
        # DST ends on 2026-10-25 (03:00 -> 02:00): 07:00 CET = 06:00 UTC.
        (utc(2026, 10, 24, 22, 0), OSLO, "23:00", "07:00", utc(2026, 10, 25, 6, 0)),
        # Quiet hours ending at a wall time DST skips (02:30): lands after the gap, 01:30 UTC.
        (utc(2026, 3, 29, 0, 30), OSLO, "01:00", "02:30", utc(2026, 3, 29, 1, 30)),
    ],
)
def test_next_allowed(
    moment: datetime, tz: ZoneInfo, start: str, end: str, expected: datetime
) -> None:
    allowed = rules.next_allowed(moment, tz, rules.parse_hhmm(start), rules.parse_hhmm(end))
    assert allowed == expected
    local = allowed.astimezone(tz).time()
    assert not rules.in_quiet_hours(local, rules.parse_hhmm(start), rules.parse_hhmm(end))


@pytest.mark.parametrize(
    ("last", "now", "tz", "at_risk"),
    [
        (utc(2026, 11, 24, 12, 0), utc(2026, 11, 25, 18, 0), OSLO, True),  # yesterday, not today
        (utc(2026, 11, 25, 8, 0), utc(2026, 11, 25, 18, 0), OSLO, False),  # already today
        (utc(2026, 11, 23, 12, 0), utc(2026, 11, 25, 18, 0), OSLO, False),  # streak already gone
        (None, utc(2026, 11, 25, 18, 0), OSLO, False),
        # 23:30 UTC on the 24th is the 25th in Oslo: learned "today" there.
        (utc(2026, 11, 24, 23, 30), utc(2026, 11, 25, 18, 0), OSLO, False),
        # ... but the 24th in New York: yesterday.
        (utc(2026, 11, 24, 23, 30), utc(2026, 11, 25, 23, 0), NEW_YORK, True),
    ],
)
def test_streak_at_risk(last: datetime | None, now: datetime, tz: ZoneInfo, at_risk: bool) -> None:
    assert rules.streak_at_risk(last, now, tz) is at_risk


@pytest.mark.parametrize(
    ("now", "tz", "due"),
    [
        (utc(2026, 11, 25, 17, 59), OSLO, False),  # 18:59 local
        (utc(2026, 11, 25, 18, 0), OSLO, True),  # 19:00 local
        (utc(2026, 11, 25, 20, 59), OSLO, True),
        (utc(2026, 11, 25, 21, 0), OSLO, False),  # 22:00 local: too late
        (utc(2026, 11, 26, 0, 30), NEW_YORK, True),  # 19:30 in New York
        (utc(2026, 6, 25, 17, 0), OSLO, True),  # summer time: 19:00 CEST
    ],
)
def test_streak_reminder_window(now: datetime, tz: ZoneInfo, due: bool) -> None:
    assert rules.streak_reminder_due(now, tz) is due


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        (utc(2026, 11, 25, 10, 0), OSLO, utc(2026, 11, 23, 7, 0)),  # Wed -> Mon 08:00 CET
        (utc(2026, 11, 23, 6, 0), OSLO, utc(2026, 11, 23, 7, 0)),  # Monday 07:00 local
        # Sunday 23:30 UTC is already Monday in Oslo.
        (utc(2026, 11, 29, 23, 30), OSLO, utc(2026, 11, 30, 7, 0)),
        # ... but still Sunday in New York: that week's Monday.
        (utc(2026, 11, 29, 23, 30), NEW_YORK, utc(2026, 11, 23, 13, 0)),
        (utc(2026, 3, 31, 10, 0), OSLO, utc(2026, 3, 30, 6, 0)),  # after DST: 08:00 CEST
    ],
)
def test_week_start_push_at(now: datetime, tz: ZoneInfo, expected: datetime) -> None:
    assert rules.week_start_push_at(now, tz) == expected


def test_end_of_local_day_is_the_next_local_midnight() -> None:
    assert rules.end_of_local_day(utc(2026, 11, 25, 18, 0), OSLO) == utc(2026, 11, 25, 23, 0)
    assert rules.end_of_local_day(utc(2026, 3, 28, 12, 0), OSLO) == utc(2026, 3, 28, 23, 0)
    assert rules.end_of_local_day(utc(2026, 3, 29, 12, 0), OSLO) == utc(2026, 3, 29, 22, 0)


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (30, 3600)],
)
def test_retry_backoff_doubles_up_to_an_hour(attempts: int, seconds: int) -> None:
    assert rules.retry_delay(attempts) == timedelta(seconds=seconds)


def test_daily_cap_defaults_and_org_override() -> None:
    assert rules.daily_cap({}) == rules.DEFAULT_DAILY_CAP
    assert rules.daily_cap({"notifications": {"daily_cap": 1}}) == 1
    assert rules.reminder_time(
        {"notifications": {"streak_time": "18:30"}}, "streak_time", time(19)
    ) == time(18, 30)


@pytest.mark.parametrize(
    ("locale", "chosen", "title"),
    [
        ("nb", "nb", "Ikke mist rekka di"),
        ("nn", "nb", "Ikke mist rekka di"),
        ("en", "en", "Keep your streak"),
        ("de", "en", "Keep your streak"),
        (None, "nb", "Ikke mist rekka di"),
    ],
)
def test_catalogue_picks_the_users_language(locale: str | None, chosen: str, title: str) -> None:
    used, rendered_title, body = render("streak_at_risk", locale, {"streak": 4})
    assert (used, rendered_title) == (chosen, title)
    assert "4" in body
    assert pick_locale(locale) == chosen
