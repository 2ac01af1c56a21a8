"""User administration: finding people, one-time set-password links."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.auth.models import LoginSession
from app.auth.passwords import hash_password
from app.auth.service import revoke_all_logins
from app.errors import AppError, Conflict
from app.identity.models import PasswordLink
from app.orgs import service as orgs
from app.orgs.models import User
from app.pagination import Page, paginate


class LinkNotUsable(AppError):
    """The same answer for an unknown, used, replaced or expired link: nothing to learn from it."""

    status, title, kind = 410, "Link no longer valid", "link-not-usable"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_users(
    session: Session,
    *,
    org_id: str,
    q: str | None,
    department_id: str | None,
    active: bool | None,
    limit: int,
    cursor: str | None,
) -> Page[dict[str, Any]]:
    """The organisation's users, filtered, one page, each with their last login (None: never
    signed in)."""
    stmt = select(User).where(User.org_id == org_id)
    if q:
        pattern = _like_pattern(q.lower())
        stmt = stmt.where(
            or_(
                func.lower(User.username).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
    if department_id:
        orgs.get_department(session, org_id, department_id)  # another organisation's: 404
        subtree = orgs.department_subtree_ids(session, org_id, [department_id])
        stmt = stmt.where(User.department_id.in_(subtree))
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    page = paginate(session, stmt, key=User.id, limit=limit, cursor=cursor)
    last_logins = dict(
        session.execute(
            select(LoginSession.user_id, func.max(LoginSession.created_at))
            .where(LoginSession.user_id.in_([user.id for user in page.items]))
            .group_by(LoginSession.user_id)
        ).all()
    )
    items = [_listing(user, last_logins.get(user.id)) for user in page.items]
    return Page(items=items, next_cursor=page.next_cursor)


def _listing(user: User, last_login_at: datetime | None) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "roles": user.roles,
        "department": user.department,
        "active": user.active,
        "created_at": user.created_at,
        "started_on": user.started_on,
        "last_active_at": user.last_active_at,
        "last_login_at": last_login_at,
        "never_signed_in": last_login_at is None and user.last_active_at is None,
        "erased_at": user.erased_at,
    }


@dataclass(frozen=True)
class IssuedLink:
    token: str
    purpose: str
    expires_at: datetime
    user: User


def create_password_link(
    session: Session,
    *,
    org_id: str,
    user_id: str,
    purpose: str,
    created_by: str,
    lifetime: timedelta,
    now: datetime,
) -> IssuedLink:
    """A new one-time set-password link for a user; earlier unused links of theirs stop
    working. The token is returned once and only its hash is kept."""
    user = orgs.get_user(session, org_id, user_id)
    if not user.active:
        raise Conflict("The account is deactivated; activate it before sending a link.")
    session.execute(
        update(PasswordLink)
        .where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordLink(
            token_hash=hash_token(token),
            org_id=org_id,
            user_id=user.id,
            purpose=purpose,
            created_by=created_by,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return IssuedLink(token=token, purpose=purpose, expires_at=now + lifetime, user=user)


def set_password_with_link(session: Session, *, token: str, password: str, now: datetime) -> User:
    """Use a set-password link once: the password is set and every existing login ends."""
    token_hash = hash_token(token)
    # Claimed in one conditional UPDATE, so two racing requests cannot both use it.
    claimed = session.execute(
        update(PasswordLink)
        .where(
            PasswordLink.token_hash == token_hash,
            PasswordLink.used_at.is_(None),
            PasswordLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    link = session.scalar(select(PasswordLink).where(PasswordLink.token_hash == token_hash))
    user = session.get(User, link.user_id) if claimed and link is not None else None
    if user is None or not user.active:
        raise LinkNotUsable("This link is unknown, used, replaced or expired; ask for a new one.")
    user.password_hash = hash_password(password)
    revoke_all_logins(session, user_id=user.id, now=now, reason="password_set")
    session.flush()
    return user
