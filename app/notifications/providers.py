"""Who hears about events owned by other domains. Each provider is the one call to wire.

Weekly paths (app/paths) and competitions (app/competitions) are built on other branches;
until they are merged these return nothing, and the jobs in `jobs.py` do all the rest
(local times, quiet hours, caps, dedupe, delivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


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


def weekly_path_recipients(session: Session, *, now: datetime) -> list[Recipients]:
    """Paths of the current week and the users they are assigned to.

    TO WIRE (app.paths): one Recipients per path of the current ISO week (org time zone),
    key=path.id, payload={"path_id": ..., "title": ...}.
    """
    return []


def due_reminder_recipients(session: Session, *, now: datetime) -> list[Recipients]:
    """Mandatory work due within the next 48 hours and who has not completed it.

    TO WIRE (app.paths / requirements): key=f"{path_id}:{due_at:%Y-%m-%d}",
    payload={"path_id": ..., "module_id"?: ..., "title": ...}, due_at=the due time.
    """
    return []


def competition_end_recipients(session: Session, *, now: datetime) -> list[Recipients]:
    """Competitions that ended in the last 24 hours and the members of their departments.

    TO WIRE (app.competitions): key=competition.id,
    payload={"competition_id": ..., "title": ...}.
    """
    return []
