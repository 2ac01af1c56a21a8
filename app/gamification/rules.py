"""Points, levels and streaks as pure functions. `now` and time zones are passed in."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

DEFAULT_POINTS_RULES: dict[str, int] = {
    "per_correct_answer": 10,
    "completion_bonus": 20,
}

# Points needed to reach level n+1 (level 1 needs nothing). Gentle at first, then steady.
LEVEL_THRESHOLDS = (0, 100, 250, 500, 900, 1400, 2000, 2800, 3800, 5000, 6500, 8500, 11000)


@dataclass(frozen=True)
class Level:
    number: int
    points_to_next: int | None  # None at the top level


def points_rules(org_settings: dict[str, Any]) -> dict[str, int]:
    """The organisation's points rules over the defaults."""
    return {**DEFAULT_POINTS_RULES, **(org_settings.get("points") or {})}


def level_for(total_points: int) -> Level:
    number = bisect.bisect_right(LEVEL_THRESHOLDS, max(total_points, 0))
    if number >= len(LEVEL_THRESHOLDS):
        return Level(number=number, points_to_next=None)
    return Level(number=number, points_to_next=LEVEL_THRESHOLDS[number] - total_points)


def streak_from_days(days: set[date], today: date) -> tuple[int, int]:
    """(current, longest) runs of consecutive days. Today not done yet does not break it."""
    longest = run = 0
    previous: date | None = None
    for day in sorted(days):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    current = 0
    cursor = today if today in days else today - timedelta(days=1)
    while cursor in days:
        current += 1
        cursor -= timedelta(days=1)
    return current, longest
