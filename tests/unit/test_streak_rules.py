"""Streak rules as a table: rest days, freezes, today still open, long gaps."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.gamification.rules import Streak, compute_streak

MON = date(2026, 11, 2)  # a Monday


def days(*offsets: int) -> list[date]:
    return [MON + timedelta(days=o) for o in offsets]


@pytest.mark.parametrize(
    ("learned", "today", "rest", "expected"),
    [
        # nothing learned
        ([], 0, 2, Streak(0, 0, 0)),
        # today counts; yesterday's run continues into today
        (range(0, 3), 2, 2, Streak(3, 3, 0)),
        # today not done yet does not break the streak
        (range(0, 3), 3, 2, Streak(3, 3, 0)),
        # a shift worker: five days on, two days off (Sat, Sun) every week: never broken
        ([*range(0, 5), *range(7, 12), *range(14, 19)], 21, 2, Streak(15, 15, 2)),
        # two rest days used mid-week (Wed, Thu) still count as rest
        ([0, 1, 4, 5, 6], 6, 2, Streak(5, 5, 0)),
        # three days off in one week with no freeze banked: broken, a new run starts
        ([0, 1, 5, 6], 6, 2, Streak(2, 2, 0)),
        # no rest days allowed: one missed day breaks it
        ([0, 1, 3], 3, 0, Streak(1, 2, 0)),
        # rest days are per ISO week: Sat+Sun then Mon+Tue of the next week are fine
        ([0, 1, 2, 3, 4, 9, 10], 10, 2, Streak(7, 7, 1)),
    ],
)
def test_streak_table(learned, today, rest, expected):
    result = compute_streak(days(*learned), MON + timedelta(days=today), rest_days_per_week=rest)
    assert result == expected


def test_a_freeze_is_earned_every_seven_days_and_at_most_two_are_banked():
    every_day = days(*range(0, 28))
    assert compute_streak(every_day[:6], MON + timedelta(days=5)).freezes == 0
    assert compute_streak(every_day[:7], MON + timedelta(days=6)).freezes == 1
    assert compute_streak(every_day[:14], MON + timedelta(days=13)).freezes == 2
    assert compute_streak(every_day, MON + timedelta(days=27)).freezes == 2


def test_freezes_are_used_automatically_after_rest_days():
    # 7 days in a row (one freeze), then a week with 3 days off (Mon–Wed): 2 rest + 1 freeze.
    learned = days(*range(0, 7), 10, 11, 12, 13)
    result = compute_streak(learned, MON + timedelta(days=13), rest_days_per_week=2)
    # The freeze earned on day 7 covered the third day off and is spent.
    assert result == Streak(current=11, longest=11, freezes=0)
    # Without the freeze (fewer than 7 days first) the same gap breaks the streak.
    short = days(*range(1, 7), 10, 11)
    assert compute_streak(short, MON + timedelta(days=11)).current == 2


def test_longest_survives_a_break():
    learned = days(*range(0, 10), 20, 21)
    result = compute_streak(learned, MON + timedelta(days=21), rest_days_per_week=0, max_freezes=0)
    assert (result.current, result.longest) == (2, 10)


def test_a_long_absence_ends_the_streak_even_with_freezes():
    learned = days(*range(0, 14))
    result = compute_streak(learned, MON + timedelta(days=40))
    assert result.current == 0 and result.longest == 14 and result.freezes == 0
