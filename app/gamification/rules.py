"""Points, levels and streaks as pure functions. `now` and time zones are passed in."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

# Every knob an organisation may override in `Organization.settings["points"]`
# (docs/game-rules.md has the table). `daily_cap` None means no cap.
DEFAULT_POINTS_RULES: dict[str, Any] = {
    "per_correct_answer": 10,
    "first_try_bonus": 5,
    "completion_bonus": 20,
    "perfect_score_bonus": 15,
    "daily_cap": None,
}

# Points needed to reach level n+1 (level 1 needs nothing). Gentle at first, then steady.
LEVEL_THRESHOLDS = (0, 100, 250, 500, 900, 1400, 2000, 2800, 3800, 5000, 6500, 8500, 11000)

DEFAULT_STREAK_RULES: dict[str, int] = {
    "rest_days_per_week": 2,
    "freeze_every": 7,
    "max_freezes": 2,
}


@dataclass(frozen=True)
class Level:
    number: int
    points_to_next: int | None  # None at the top level


def points_rules(org_settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The organisation's points rules over the defaults (unknown keys ignored)."""
    custom = (org_settings or {}).get("points") or {}
    return {key: custom.get(key, default) for key, default in DEFAULT_POINTS_RULES.items()}


def streak_rules(org_settings: Mapping[str, Any] | None) -> dict[str, int]:
    """The organisation's streak rules over the defaults."""
    custom = (org_settings or {}).get("streak") or {}
    return {key: int(custom.get(key, default)) for key, default in DEFAULT_STREAK_RULES.items()}


def level_for(total_points: int) -> Level:
    number = bisect.bisect_right(LEVEL_THRESHOLDS, max(total_points, 0))
    if number >= len(LEVEL_THRESHOLDS):
        return Level(number=number, points_to_next=None)
    return Level(number=number, points_to_next=LEVEL_THRESHOLDS[number] - total_points)


def capped(points: int, *, earned_today: int, daily_cap: int | None) -> int:
    """What may still be paid today under the organisation's daily cap."""
    if daily_cap is None:
        return max(points, 0)
    return max(0, min(points, int(daily_cap) - earned_today))


# The ledger keeps each award's reason in English (`PointAward.reason`, as written); people
# read it in their language. nn falls back to nb, an unknown reason shows as written.
REASONS: dict[str, dict[str, str]] = {
    "Correct answer": {"nb": "Riktig svar", "nn": "Rett svar", "en": "Correct answer"},
    "First-try bonus": {
        "nb": "Bonus for riktig på første forsøk",
        "nn": "Bonus for rett på første forsøk",
        "en": "First-try bonus",
    },
    "Module completed": {"nb": "Modul fullført", "nn": "Modul fullført", "en": "Module completed"},
    "Perfect score": {"nb": "Alt riktig", "nn": "Alt rett", "en": "Perfect score"},
    "Review answered": {
        "nb": "Repetisjon: riktig svar",
        "nn": "Repetisjon: rett svar",
        "en": "Review answered",
    },
}


def reason_text(reason: str, locale: str | None) -> str:
    """A ledger reason as a person reads it in `locale`."""
    texts = REASONS.get(reason)
    if texts is None:
        return reason
    if locale in texts:
        return texts[locale]
    return texts["nb"] if locale == "nn" else texts["en"]


@dataclass(frozen=True)
class AnswerPay:
    """One ledger row to write for an answer: points, reason, source key suffix."""

    points: int
    reason: str
    source: str


def answer_payments(
    rules: dict[str, Any], *, module_id: str, question_id: str, nth_correct: int, first_try: bool
) -> list[AnswerPay]:
    """The rows a correct answer may pay. The ledger's unique source keys do the no-farming:

    the n-th correct answer on a module pays once ever, so a repeat attempt only pays for the
    answers beyond your best; the first-try bonus is paid once per question.
    """
    pays = [
        AnswerPay(
            int(rules["per_correct_answer"]),
            "Correct answer",
            f"module:{module_id}:correct:{nth_correct}",
        )
    ]
    if first_try:
        pays.append(
            AnswerPay(
                int(rules["first_try_bonus"]),
                "First-try bonus",
                f"module:{module_id}:first-try:{question_id}",
            )
        )
    return pays


def completion_payments(
    rules: dict[str, Any], *, module_id: str, correct: int, total: int
) -> list[AnswerPay]:
    """Completion bonus (first completion of a module) and perfect-score bonus (first perfect)."""
    pays = [
        AnswerPay(
            int(rules["completion_bonus"]), "Module completed", f"module:{module_id}:complete"
        )
    ]
    if total > 0 and correct == total:
        pays.append(
            AnswerPay(
                int(rules["perfect_score_bonus"]),
                "Perfect score",
                f"module:{module_id}:perfect",
            )
        )
    return pays


# --- streaks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    freezes: int


def _week_of(day: date) -> tuple[int, int]:
    iso = day.isocalendar()
    return iso.year, iso.week


def compute_streak(
    days: Iterable[date],
    today: date,
    *,
    rest_days_per_week: int = 2,
    freeze_every: int = 7,
    max_freezes: int = 2,
) -> Streak:
    """The streak from the set of local days with learning, as of `today` (local).

    A streak counts learning days. A day without learning is first covered by the week's rest
    days (Monday–Sunday, `rest_days_per_week` of them), then by a freeze (one earned per
    `freeze_every` streak days, at most `max_freezes` banked), else the streak breaks. Today
    is still open, so it never breaks the streak.
    """
    learned = sorted(set(days))
    if not learned:
        return Streak(0, 0, 0)
    learned_set = set(learned)
    current = longest = freezes = 0
    rest_used: dict[tuple[int, int], int] = {}
    day = learned[0]
    while day <= today:
        if day in learned_set:
            current += 1
            if freeze_every > 0 and current % freeze_every == 0:
                freezes = min(freezes + 1, max_freezes)
            longest = max(longest, current)
        elif day < today and current > 0:
            week = _week_of(day)
            if rest_used.get(week, 0) < rest_days_per_week:
                rest_used[week] = rest_used.get(week, 0) + 1
            elif freezes > 0:
                freezes -= 1
            else:
                current = freezes = 0
        day += timedelta(days=1)
    return Streak(current=current, longest=longest, freezes=freezes)
