"""Login, refresh with reuse detection, logout."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.models import LoginSession, RefreshToken
from app.auth.passwords import verify_password
from app.auth.principal import forget_user
from app.auth.tokens import (
    AccessClaims,
    encode_access_token,
    hash_refresh_token,
    new_refresh_token,
)
from app.errors import Unauthorized
from app.orgs.models import Organization, User


@dataclass(frozen=True)
class TokenPolicy:
    secret: str
    access_lifetime: timedelta
    refresh_lifetime: timedelta


def policy_from_config(config: Mapping[str, Any]) -> TokenPolicy:
    """The token lifetimes and signing secret of the app's configuration."""
    return TokenPolicy(
        secret=config["SECRET_KEY"],
        access_lifetime=timedelta(minutes=config["ACCESS_TOKEN_MINUTES"]),
        refresh_lifetime=timedelta(days=config["REFRESH_TOKEN_DAYS"]),
    )


class RefreshTokenReused(Unauthorized):
    """Raised after the login was revoked; the caller must commit that before answering."""


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def _issue(
    session: Session, *, user: User, login: LoginSession, policy: TokenPolicy, now: datetime
) -> IssuedTokens:
    refresh = new_refresh_token()
    session.add(
        RefreshToken(
            token_hash=hash_refresh_token(refresh),
            session_id=login.id,
            issued_at=now,
            expires_at=now + policy.refresh_lifetime,
        )
    )
    access = encode_access_token(
        AccessClaims(user_id=user.id, org_id=user.org_id, session_id=login.id),
        secret=policy.secret,
        now=now,
        lifetime=policy.access_lifetime,
    )
    return IssuedTokens(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(policy.access_lifetime.total_seconds()),
        user=user,
    )


def login(
    session: Session,
    *,
    organization: str,
    username: str,
    password: str,
    policy: TokenPolicy,
    now: datetime,
) -> IssuedTokens:
    """Check the credentials and start a new login; the same 401 for every kind of failure."""
    user = session.scalar(
        select(User)
        .join(Organization, Organization.id == User.org_id)
        .where(Organization.slug == organization, User.username == username)
    )
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.active:
        raise Unauthorized("Wrong organization, username or password.")
    if not passwords_allowed(user):
        raise Unauthorized("This organization signs in with its company account (SSO).")
    return start_login(session, user=user, policy=policy, now=now)


def passwords_allowed(user: User) -> bool:
    """An organisation that signs in through its identity provider may turn passwords off;
    its admins keep theirs, so a broken provider cannot lock everybody out."""
    return bool(user.organization.settings.get("password_login", True)) or user.has_role("admin")


def start_login(
    session: Session,
    *,
    user: User,
    policy: TokenPolicy,
    now: datetime,
    ends_at: datetime | None = None,
) -> IssuedTokens:
    """A new login for a user whose identity was established (password or single sign-on);
    after `ends_at` it is not refreshed any more."""
    login_session = LoginSession(user_id=user.id, created_at=now, ends_at=ends_at)
    session.add(login_session)
    session.flush()
    user.last_active_at = now
    return _issue(session, user=user, login=login_session, policy=policy, now=now)


def refresh(
    session: Session, *, refresh_token: str, policy: TokenPolicy, now: datetime
) -> IssuedTokens:
    """Trade a refresh token for a new pair. A token presented twice revokes its whole login."""
    token_hash = hash_refresh_token(refresh_token)
    stored = session.get(RefreshToken, token_hash)
    if stored is None:
        raise Unauthorized("Unknown refresh token.")
    login_session = session.get(LoginSession, stored.session_id)
    assert login_session is not None
    # Mark it used in one conditional UPDATE, so two racing requests cannot both win.
    claimed = session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        _revoke(session, login_session, reason="refresh_token_reuse", now=now)
        raise RefreshTokenReused("This refresh token was already used; the login is revoked.")
    if login_session.revoked_at is not None or stored.expires_at <= now:
        raise Unauthorized("The login has ended; log in again.")
    if login_session.ends_at is not None and login_session.ends_at <= now:
        raise Unauthorized("The single sign-on has ended; sign in again.")
    user = session.get(User, login_session.user_id)
    if user is None or not user.active:
        raise Unauthorized("The account is deactivated.")
    user.last_active_at = now
    return _issue(session, user=user, login=login_session, policy=policy, now=now)


def logout(session: Session, *, refresh_token: str, now: datetime) -> None:
    """End the login the refresh token belongs to; unknown tokens are ignored."""
    stored = session.get(RefreshToken, hash_refresh_token(refresh_token))
    if stored is None:
        return
    login_session = session.get(LoginSession, stored.session_id)
    if login_session is not None:
        _revoke(session, login_session, reason="logout", now=now)


def _revoke(session: Session, login_session: LoginSession, *, reason: str, now: datetime) -> None:
    if login_session.revoked_at is None:
        login_session.revoked_at = now
        login_session.revoked_reason = reason


def revoke_all_logins(session: Session, *, user_id: str, now: datetime, reason: str) -> None:
    """End every login of a user (deactivation, password change)."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    forget_user(session, user_id)
