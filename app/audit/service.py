"""Recording acts and listing them for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.pagination import Page, paginate


def record(
    session: Session,
    *,
    org_id: str,
    actor_id: str | None,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> AuditEvent:
    """Add one event to the trail in the caller's transaction."""
    event = AuditEvent(
        org_id=org_id,
        actor_id=actor_id,
        action=action,
        target=target,
        details=details or {},
        at=now,
    )
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session,
    *,
    org_id: str,
    action: str | None,
    actor_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEvent]:
    """The organisation's trail, newest first, optionally one action or one actor."""
    stmt = select(AuditEvent).where(AuditEvent.org_id == org_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if actor_id:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    return paginate(session, stmt, key=AuditEvent.id, limit=limit, cursor=cursor, newest_first=True)
