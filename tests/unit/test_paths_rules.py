"""Week arithmetic, unlocking and requirement status: pure table tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.paths import rules
from app.paths.rules import PathStep


@pytest.mark.parametrize(
    ("moment", "timezone", "week"),
    [
        # Monday 00:30 in Oslo is still Sunday evening in UTC.
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "Europe/Oslo", "2026-W48"),
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "UTC", "2026-W47"),
        # Sunday evening in New York is Monday in UTC.
        (datetime(2026, 11, 30, 2, 0, tzinfo=UTC), "America/New_York", "2026-W48"),
        (datetime(2026, 11, 30, 2, 0, tzinfo=UTC), "Europe/Oslo", "2026-W49"),
        # Year change: 1 January 2027 (a Friday) belongs to 2026-W53.
        (datetime(2027, 1, 1, 12, 0, tzinfo=UTC), "Europe/Oslo", "2026-W53"),
        (datetime(2027, 1, 4, 0, 30, tzinfo=UTC), "Europe/Oslo", "2027-W01"),
        # 29 December 2025 (a Monday) already belongs to 2026-W01.
        (datetime(2025, 12, 29, 8, 0, tzinfo=UTC), "Europe/Oslo", "2026-W01"),
        # Far east: Monday 00:10 in Auckland is Sunday in UTC.
        (datetime(2026, 11, 22, 11, 10, tzinfo=UTC), "Pacific/Auckland", "2026-W48"),
    ],
)
def test_week_of_uses_the_organisations_wall_clock(moment, timezone, week):
    assert rules.week_of(moment, timezone) == week


@pytest.mark.parametrize(
    ("week", "valid"),
    [
        ("2026-W53", True),  # 2026 has 53 ISO weeks
        ("2027-W53", False),
        ("2020-W53", True),
        ("2026-W00", False),
        ("2026-W54", False),
        ("2026-W7", False),
        ("26-W07", False),
        ("2026W07", False),
        ("", False),
        ("2026-W01", True),
    ],
)
def test_parse_week(week, valid):
    if valid:
        assert rules.format_week(*rules.parse_week(week)) == week
    else:
        with pytest.raises(ValueError):
            rules.parse_week(week)


@pytest.mark.parametrize(
    ("year", "weeks"), [(2015, 53), (2020, 53), (2021, 52), (2026, 53), (2027, 52), (2032, 53)]
)
def test_weeks_in_year(year, weeks):
    assert rules.weeks_in_year(year) == weeks


@pytest.mark.parametrize(
    ("week", "monday", "sunday"),
    [
        ("2026-W48", date(2026, 11, 23), date(2026, 11, 29)),
        ("2026-W53", date(2026, 12, 28), date(2027, 1, 3)),
        ("2026-W01", date(2025, 12, 29), date(2026, 1, 4)),
    ],
)
def test_week_dates(week, monday, sunday):
    assert rules.week_dates(week) == (monday, sunday)


@pytest.mark.parametrize(
    ("week", "count", "expected"),
    [
        ("2026-W52", 1, "2026-W53"),
        ("2026-W53", 1, "2027-W01"),
        ("2027-W01", -1, "2026-W53"),
        ("2027-W52", 1, "2028-W01"),
        ("2026-W48", 0, "2026-W48"),
    ],
)
def test_add_weeks_across_year_ends(week, count, expected):
    assert rules.add_weeks(week, count) == expected


@pytest.mark.parametrize(
    ("week", "timezone", "start", "end", "hours"),
    [
        # Oslo winter time: UTC+1.
        ("2026-W48", "Europe/Oslo", datetime(2026, 11, 22, 23, tzinfo=UTC), None, 168),
        # The week DST ends (25 Oct 2026, 03:00 -> 02:00) is an hour longer.
        ("2026-W43", "Europe/Oslo", datetime(2026, 10, 18, 22, tzinfo=UTC), None, 169),
        # The week DST starts (29 Mar 2026) is an hour shorter.
        ("2026-W13", "Europe/Oslo", datetime(2026, 3, 22, 23, tzinfo=UTC), None, 167),
        ("2026-W48", "UTC", datetime(2026, 11, 23, tzinfo=UTC), None, 168),
    ],
)
def test_week_span_in_utc_follows_dst(week, timezone, start, end, hours):
    begins, ends = rules.week_span_utc(week, timezone)
    assert begins == start
    assert ends - begins == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("started_on", "week", "number"),
    [
        (date(2026, 11, 25), "2026-W48", 1),  # a Wednesday start: that week is week 1
        (date(2026, 11, 23), "2026-W48", 1),
        (date(2026, 11, 29), "2026-W49", 2),  # Sunday start: Monday begins week 2
        (date(2026, 11, 25), "2026-W51", 4),
        (date(2026, 12, 30), "2027-W01", 2),  # across 2026-W53
        (date(2026, 11, 25), "2026-W47", 0),  # before the start
    ],
)
def test_onboarding_week_number(started_on, week, number):
    assert rules.onboarding_week_number(started_on, week) == number


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2027, 12, 31, tzinfo=UTC), 2, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 11, 25, tzinfo=UTC), 12, datetime(2027, 11, 25, tzinfo=UTC)),
        (datetime(2026, 11, 25, tzinfo=UTC), 14, datetime(2028, 1, 25, tzinfo=UTC)),
    ],
)
def test_add_months_clamps_the_day(moment, months, expected):
    assert rules.add_months(moment, months) == expected


def test_sequential_locks_unlock_in_order():
    steps = [PathStep("a", True), PathStep("b", True), PathStep("c", False)]
    assert rules.sequential_locks(steps, set()) == {"a": None, "b": "a", "c": "a"}
    assert rules.sequential_locks(steps, {"a"}) == {"a": None, "b": None, "c": "b"}
    assert rules.sequential_locks(steps, {"a", "b"}) == {"a": None, "b": None, "c": None}
    # Completing a later module out of band does not unlock what is before the first gap.
    assert rules.sequential_locks(steps, {"b"}) == {"a": None, "b": "a", "c": "a"}


@pytest.mark.parametrize(
    ("locks", "locked"),
    [([], False), ([None], False), (["a"], True), (["a", None], False), (["a", "b"], True)],
)
def test_locked_only_if_every_path_locks(locks, locked):
    assert rules.locked_by_paths(locks) is locked


@pytest.mark.parametrize(
    ("completed", "started", "locked", "status"),
    [
        (True, True, True, "completed"),
        (False, True, True, "in_progress"),
        (False, False, True, "locked"),
        (False, False, False, "available"),
    ],
)
def test_module_status(completed, started, locked, status):
    assert rules.module_status(completed=completed, started=started, locked=locked) == status


NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("passed_at", "validity", "status", "valid_until"),
    [
        (None, 12, "missing", None),
        (None, None, "missing", None),
        (NOW - timedelta(days=30), None, "valid", None),
        (datetime(2026, 3, 1, tzinfo=UTC), 12, "valid", datetime(2027, 3, 1, tzinfo=UTC)),
        (datetime(2025, 12, 10, tzinfo=UTC), 12, "expiring", datetime(2026, 12, 10, tzinfo=UTC)),
        (datetime(2025, 11, 1, tzinfo=UTC), 12, "expired", datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_requirement_state(passed_at, validity, status, valid_until):
    assigned = datetime(2026, 11, 1, tzinfo=UTC)
    state = rules.requirement_state(
        last_passed_at=passed_at,
        validity_months=validity,
        assigned_at=assigned,
        due_within_days=30,
        expiring_window_days=30,
        now=NOW,
    )
    assert state.status == status
    assert state.valid_until == valid_until
    if status == "missing":
        assert state.due_at == assigned + timedelta(days=30)
    else:
        assert state.due_at == valid_until
    assert rules.needs_training(state) is (status != "valid")
