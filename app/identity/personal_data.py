"""Personal data on request: everything stored about a person (export), and erasure that
keeps their points and answers only as anonymous numbers.

Erasure reaches into other domains' tables on purpose: it is one obligation over the whole
model, and keeping it in one place makes it reviewable against the list of what is stored.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.auth.models import LoginSession, RefreshToken
from app.auth.service import revoke_all_logins
from app.gamification.models import EarnedBadge, LearningDay, PlayerProfile, PointAward
from app.idempotency.models import IdempotentResponse
from app.identity.models import PasswordLink, SignInCode
from app.insights import kept as kept_insights
from app.learning.models import Answer, Attempt
from app.notifications.models import Device, Notification, NotificationOptOut
from app.orgs import facts
from app.orgs import service as orgs
from app.orgs.models import DepartmentManager, User
from app.reviews.models import ReviewHold, ReviewItem

ERASED_DISPLAY_NAME = "Former colleague"
ERASED_PASSWORD = "!"  # never matches any password


def _plain(value: Any) -> Any:
    """Times as ISO 8601 (the API's spelling), everything else as JSON has it."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _rows(session: Session, model: Any, *where: Any) -> list[dict[str, Any]]:
    """Every column of the matching rows, as plain dicts (the export is the database's truth)."""
    stmt = select(model).where(*where).order_by(*model.__mapper__.primary_key)
    columns = [column.key for column in model.__table__.columns]
    return [{name: getattr(row, name) for name in columns} for row in session.scalars(stmt)]


def export_personal_data(session: Session, *, user: User, now: datetime) -> dict[str, Any]:
    """Everything stored about `user`, as one JSON-ready document (secrets only as the fact
    that they exist: no password hash, token or token hash)."""
    attempts = _rows(session, Attempt, Attempt.user_id == user.id)
    answers = _rows(
        session,
        Answer,
        Answer.attempt_id.in_(select(Attempt.id).where(Attempt.user_id == user.id)),
    )
    by_attempt: dict[str, list[dict[str, Any]]] = {}
    for answer in answers:
        by_attempt.setdefault(answer["attempt_id"], []).append(answer)
    for attempt in attempts:
        attempt["answers"] = by_attempt.get(attempt["id"], [])
    logins = _rows(session, LoginSession, LoginSession.user_id == user.id)
    return _plain(
        {
            "exported_at": now,
            "profile": {
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
                "organization": {"id": user.org_id, "slug": user.organization.slug},
                "department": (
                    {"id": user.department.id, "name": user.department.name}
                    if user.department
                    else None
                ),
                "roles": user.roles,
                "active": user.active,
                "created_at": user.created_at,
                "started_on": user.started_on,
                "last_active_at": user.last_active_at,
                "external_id": user.external_id,
                "has_password": user.password_hash != ERASED_PASSWORD,
            },
            "preferences": {
                "locale": user.locale,
                "timezone": user.timezone,
                "quiet_hours": {"start": user.quiet_hours_start, "end": user.quiet_hours_end},
                "player_profile": _rows(session, PlayerProfile, PlayerProfile.user_id == user.id),
                "notification_opt_outs": _rows(
                    session, NotificationOptOut, NotificationOptOut.user_id == user.id
                ),
                "review_holds": _rows(session, ReviewHold, ReviewHold.user_id == user.id),
            },
            "managed_departments": [
                row["department_id"]
                for row in _rows(session, DepartmentManager, DepartmentManager.user_id == user.id)
            ],
            "devices": _rows(session, Device, Device.user_id == user.id),
            "points_ledger": _rows(session, PointAward, PointAward.user_id == user.id),
            "learning_days": _rows(session, LearningDay, LearningDay.user_id == user.id),
            "attempts": attempts,
            "review_items": _rows(session, ReviewItem, ReviewItem.user_id == user.id),
            "badges": _rows(session, EarnedBadge, EarnedBadge.user_id == user.id),
            "notifications": _rows(session, Notification, Notification.user_id == user.id),
            "login_records": [
                {k: login[k] for k in ("id", "created_at", "revoked_at", "revoked_reason")}
                for login in logins
            ],
            "password_links": [
                {k: link[k] for k in ("id", "purpose", "created_at", "expires_at", "used_at")}
                for link in _rows(session, PasswordLink, PasswordLink.user_id == user.id)
            ],
        }
    )


def erase_user(session: Session, *, org_id: str, user_id: str, now: datetime) -> User:
    """Erase a person's personal data: the account becomes an anonymous, deactivated
    placeholder; the ledger, attempts, answers, badges and review history stay under its id,
    so every total, board and aggregate is unchanged."""
    user = orgs.get_user(session, org_id, user_id)
    revoke_all_logins(session, user_id=user.id, now=now, reason="erased")
    # Login records go entirely (their refresh tokens with them).
    session.execute(
        delete(RefreshToken).where(
            RefreshToken.session_id.in_(
                select(LoginSession.id).where(LoginSession.user_id == user.id)
            )
        )
    )
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    session.execute(delete(Device).where(Device.user_id == user.id))
    session.execute(delete(NotificationOptOut).where(NotificationOptOut.user_id == user.id))
    session.execute(delete(ReviewHold).where(ReviewHold.user_id == user.id))
    session.execute(delete(PasswordLink).where(PasswordLink.user_id == user.id))
    session.execute(delete(SignInCode).where(SignInCode.user_id == user.id))
    # Replayed responses may hold the person's name.
    session.execute(delete(IdempotentResponse).where(IdempotentResponse.user_id == user.id))
    session.execute(delete(DepartmentManager).where(DepartmentManager.user_id == user.id))
    facts.forget(session, user.org_id)  # who manages what is cached; the delete was in bulk
    kept_insights.forget(session, user.org_id)  # kept members lists hold names
    # Notifications keep their row (counts, caps) but lose their text; none is pushed any more.
    session.execute(
        update(Notification)
        .where(Notification.user_id == user.id)
        .values(title="", body="", data={}, dedupe_key=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.status.in_(("pending", "sending")))
        .values(status="skipped", skip_reason="erased", claim_token=None)
        .execution_options(synchronize_session=False)
    )
    user.username = f"erased-{user.id.lower()}"
    user.display_name = ERASED_DISPLAY_NAME
    user.password_hash = ERASED_PASSWORD
    user.active = False
    user.roles = ["learner"]
    user.locale = None
    user.timezone = None
    user.quiet_hours_start = None
    user.quiet_hours_end = None
    user.last_active_at = None
    user.started_on = None
    user.external_id = None
    user.erased_at = now
    session.flush()
    return user
