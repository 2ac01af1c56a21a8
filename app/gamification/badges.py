"""Badges as data: each definition names a criterion kind and a threshold, never code of its own.

Adding a badge is adding a row to `BADGES`. The kinds:

- counters, checked on every completion against `Facts`: `modules_completed`,
  `perfect_scores`, `correct_answers`, `streak_days` (earned once, `period` "");
- `weekly_path_completed` / `department_path_completed`: checked with the week's mandatory
  path modules (`period` is the ISO week);
- `competition_won`: given to the winning department's members when a competition ends
  (`period` is the competition id).
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTER_KINDS = ("modules_completed", "perfect_scores", "correct_answers", "streak_days")


@dataclass(frozen=True)
class Badge:
    code: str
    kind: str
    threshold: int
    title: dict[str, str]
    description: dict[str, str]


BADGES: tuple[Badge, ...] = (
    Badge(
        "first_module",
        "modules_completed",
        1,
        {"en": "First module", "nb": "Første modul"},
        {"en": "Complete your first module.", "nb": "Fullfør din første modul."},
    ),
    Badge(
        "perfect_score",
        "perfect_scores",
        1,
        {"en": "Perfect score", "nb": "Alt riktig"},
        {"en": "Answer every question in a module right.", "nb": "Svar riktig på alt i en modul."},
    ),
    Badge(
        "streak_7",
        "streak_days",
        7,
        {"en": "7-day streak", "nb": "7 dager på rad"},
        {"en": "Learn on 7 days in a row (rest days allowed).", "nb": "Lær 7 dager på rad."},
    ),
    Badge(
        "streak_30",
        "streak_days",
        30,
        {"en": "30-day streak", "nb": "30 dager på rad"},
        {"en": "Learn on 30 days in a row (rest days allowed).", "nb": "Lær 30 dager på rad."},
    ),
    Badge(
        "correct_100",
        "correct_answers",
        100,
        {"en": "100 correct answers", "nb": "100 riktige svar"},
        {"en": "Give 100 correct answers.", "nb": "Gi 100 riktige svar."},
    ),
    Badge(
        "weekly_path",
        "weekly_path_completed",
        1,
        {"en": "Week's path done", "nb": "Ukens løype fullført"},
        {
            "en": "Complete every mandatory module of this week's path.",
            "nb": "Fullfør alle obligatoriske moduler i ukens løype.",
        },
    ),
    Badge(
        "department_weekly_path",
        "department_path_completed",
        1,
        {"en": "Whole team done", "nb": "Hele avdelingen i mål"},
        {
            "en": "Everyone in your department completed this week's path.",
            "nb": "Alle i avdelingen fullførte ukens løype.",
        },
    ),
    Badge(
        "competition_won",
        "competition_won",
        1,
        {"en": "Competition won", "nb": "Konkurransevinner"},
        {
            "en": "Your department won a competition.",
            "nb": "Avdelingen din vant en konkurranse.",
        },
    ),
)

BY_CODE = {badge.code: badge for badge in BADGES}


@dataclass(frozen=True)
class Facts:
    """What the counter criteria look at, for one user."""

    modules_completed: int
    perfect_scores: int
    correct_answers: int
    streak_days: int


def counter_badges_due(facts: Facts) -> list[str]:
    """Codes of the once-ever badges whose threshold the facts reach."""
    return [
        badge.code
        for badge in BADGES
        if badge.kind in COUNTER_KINDS and getattr(facts, badge.kind) >= badge.threshold
    ]


def codes_of_kind(kind: str) -> list[str]:
    return [badge.code for badge in BADGES if badge.kind == kind]


def localized(text: dict[str, str], locale: str | None) -> str:
    return text.get(locale or "", text["en"]) if locale != "nn" else text.get("nb", text["en"])
