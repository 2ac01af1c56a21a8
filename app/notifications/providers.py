"""Who hears about events owned by other domains: weekly paths and competitions.

The audiences come from those domains' services (their own rules); the jobs in `jobs.py` do
all the rest (local times, quiet hours, caps, dedupe, delivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.competitions import service as competitions
from app.insights import service as insights
from app.paths import service as paths

DUE_WINDOW = timedelta(hours=48)
ENDED_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Recipients:
    """An event and its audience.

    `key` names the event once (e.g. the path id): the same key never notifies a user twice.
    `payload` holds the deep-link ids (`path_id`, `module_id`, `competition_id`) and the
    message parameters (`title`, `due`).
    """

    user_ids: list[str]
    payload: dict[str, Any]
    key: str
    due_at: datetime | None = None


def _path_payload(audience: paths.PathAudience) -> dict[str, Any]:
    """The path's id and title, with its translated titles (`titles`) when an editor gave
    some: each user's message names it in their language (`messages.render`)."""
    payload: dict[str, Any] = {"path_id": audience.path.id, "title": audience.path.title}
    titles = {
        locale: text["title"]
        for locale, text in (audience.path.translations or {}).items()
        if isinstance(text, dict) and text.get("title")
    }
    if titles:
        payload["titles"] = titles
    return payload


def weekly_path_recipients(session: Session, *, now: datetime) -> list[Recipients]:
    """One per path of the current ISO week (each organisation's time zone), to the users it is
    assigned to (onboarding templates: those whose n-th week it is); key = the path id."""
    return [
        Recipients(
            user_ids=audience.user_ids,
            payload=_path_payload(audience),
            key=audience.path.id,
        )
        for audience in paths.current_path_audiences(session, now=now)
    ]


def due_reminder_recipients(session: Session, *, now: datetime) -> list[Recipients]:
    """Mandatory path work due within the next 48 hours and who has not completed it.

    key = f"{path_id}:{due date}" (a moved due date reminds again), due_at = the due time.
    """
    return [
        Recipients(
            user_ids=audience.user_ids,
            payload={**_path_payload(audience), "timezone": audience.timezone},
            key=f"{audience.path.id}:{audience.due_at:%Y-%m-%d}",
            due_at=audience.due_at,
        )
        for audience in paths.unfinished_mandatory_work(session, now=now, within=DUE_WINDOW)
        if audience.due_at is not None
    ]


def competition_end_recipients(session: Session, *, now: datetime) -> list[Recipients]:
    """Competitions that ended in the last 24 hours and the active members of their
    departments; key = the competition id."""
    return [
        Recipients(
            user_ids=user_ids,
            payload={"competition_id": competition.id, "title": competition.title},
            key=competition.id,
        )
        for competition, user_ids in competitions.recently_ended(
            session, now=now, within=ENDED_WINDOW
        )
        if user_ids
    ]


def requirement_reminder_recipients(session: Session, *, now: datetime) -> list[Recipients]:
    """Competence requirements that expire (or, never passed, are due) within 30 or 7 days,
    and whose they are; key = f"{requirement}:{date}:{30d|7d}", so at most two per
    requirement and validity period, and a renewal starts over."""
    return [
        Recipients(
            user_ids=group.user_ids, payload=group.params, key=group.key, due_at=group.due_at
        )
        for group in insights.requirement_reminders(session, now=now)
    ]


def manager_notes(session: Session, *, now: datetime) -> list[insights.ManagerNote]:
    """Per manager and managed department: this week's mandatory work and requirements."""
    return insights.manager_notes(session, now=now)
