"""The spaced-review scheduler (Leitner boxes) as pure functions; see docs/spaced-review.md."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# Days until the next review for a card in box n (index n - 1). A right answer moves the card
# up one box, a wrong one sends it back to box 1. The top box repeats its interval.
BOX_INTERVAL_DAYS = (1, 3, 7, 14, 30, 60)
TOP_BOX = len(BOX_INTERVAL_DAYS)

DEFAULT_REVIEW_SETTINGS: dict[str, int] = {
    "daily_limit": 10,  # questions in one day's review session
    "sample_correct_percent": 20,  # right answers that also enter the schedule
    "points_per_correct": 5,
}


def review_settings(org_settings: Mapping[str, Any]) -> dict[str, int]:
    """The organisation's review settings (`settings["reviews"]`) over the defaults."""
    return {**DEFAULT_REVIEW_SETTINGS, **(org_settings.get("reviews") or {})}


@dataclass(frozen=True)
class Card:
    box: int
    due_at: datetime


def interval(box: int) -> timedelta:
    return timedelta(days=BOX_INTERVAL_DAYS[min(max(box, 1), TOP_BOX) - 1])


def first_card(*, correct: bool, now: datetime) -> Card:
    """A question entering the schedule: a wrong one comes back tomorrow, a sampled right one
    starts a box higher."""
    box = 2 if correct else 1
    return Card(box=box, due_at=now + interval(1 if not correct else box))


def after_review(card: Card, *, correct: bool, now: datetime) -> Card:
    """The card after one review answer. Right: up a box, the interval never shrinks. Wrong:
    back to box 1 and due again within a day."""
    if not correct:
        return Card(box=1, due_at=now + interval(1))
    box = min(card.box + 1, TOP_BOX)
    return Card(box=box, due_at=now + interval(box))


def sampled(user_id: str, question_id: str, percent: int) -> bool:
    """Whether a right answer joins the schedule: a stable pick per learner and question, so
    retries and replays decide the same way."""
    digest = hashlib.sha256(f"{user_id}:{question_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def hold_shift(
    *, now: datetime, current_until: datetime | None, new_until: datetime | None
) -> timedelta:
    """How far to move every due date when a learner's away hold changes.

    Setting a hold moves due dates on by its remaining length; moving the return date moves
    them by the difference; ending a hold early gives back what was not used.
    """
    active_until = current_until if current_until is not None and current_until > now else None
    target = new_until if new_until is not None and new_until > now else None
    return (target or now) - (active_until or now)


def shift_all(due_dates: Iterable[datetime], shift: timedelta) -> list[datetime]:
    return [due + shift for due in due_dates]
