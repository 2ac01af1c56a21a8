"""Who is calling, without a query: the facts of a logged-in user and their organisation,
cached per process and dropped everywhere when a login, a user or an organisation changes.

Views that only read the caller's facts use the `Principal`; views that change the user, or
hand it to services that do, load the `User` row (`app.auth.guard.current_user`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Protocol

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from app.auth.models import LoginSession
from app.auth.tokens import AccessClaims
from app.caching import LocalCache, invalidate
from app.orgs.models import Organization, User


class OrgFactsLike(Protocol):
    """What a service reads of an organisation: an `Organization` row or `OrganizationFacts`."""

    @property
    def id(self) -> str: ...
    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def default_locale(self) -> str: ...
    @property
    def settings(self) -> Mapping[str, Any]: ...


class UserFactsLike(Protocol):
    """What a service reads of the caller: a `User` row or a `Principal` (no query)."""

    @property
    def id(self) -> str: ...
    @property
    def org_id(self) -> str: ...
    @property
    def department_id(self) -> str | None: ...
    @property
    def locale(self) -> str | None: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def organization(self) -> OrgFactsLike: ...

    def has_role(self, *roles: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class OrganizationFacts:
    id: str
    slug: str
    name: str
    timezone: str
    default_locale: str
    settings: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Principal:
    """The attributes of `User` that requests read, under the same names, so read-only code
    takes either."""

    id: str
    org_id: str
    username: str
    display_name: str
    department_id: str | None
    roles: tuple[str, ...]
    locale: str | None
    timezone: str | None
    created_at: datetime
    started_on: date | None
    organization: OrganizationFacts

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


# Both expire after five minutes at the latest; invalidation normally drops them at once.
_open_logins: LocalCache[str] = LocalCache("auth.open_logins", ttl=300)  # login id -> user id
_principals: LocalCache[Principal] = LocalCache("auth.principals", ttl=300)  # user id -> facts


def principal_for(session: Session, claims: AccessClaims) -> Principal | None:
    """The active user behind a token whose login is still open; a query only on a miss."""
    principal = None
    if _open_logins.get(claims.session_id) == claims.user_id:
        principal = _principals.get(claims.user_id)
    if principal is None:
        # Both facts come from one query, so a revoked login is seen again whenever the
        # user's entry was dropped (revoking all of a user's logins drops only that entry).
        logins_generation = _open_logins.generation
        principals_generation = _principals.generation
        principal = _load(session, claims)
        if principal is not None:
            _principals.put(claims.user_id, principal, loaded_at=principals_generation)
            _open_logins.put(claims.session_id, claims.user_id, loaded_at=logins_generation)
    if principal is None or principal.org_id != claims.org_id:
        return None
    return principal


# Built once: composing it on every miss cost several times what running it does. Columns,
# not entities: nothing is put in the session's identity map for a check.
_LOAD = (
    select(
        User.id,
        User.org_id,
        User.username,
        User.display_name,
        User.department_id,
        User.roles,
        User.locale,
        User.timezone,
        User.created_at,
        User.started_on,
        Organization.slug,
        Organization.name,
        Organization.timezone,
        Organization.default_locale,
        Organization.settings,
    )
    .join(LoginSession, LoginSession.user_id == User.id)
    .join(Organization, Organization.id == User.org_id)
    .where(
        User.id == bindparam("user_id"),
        User.active.is_(True),
        LoginSession.id == bindparam("session_id"),
        LoginSession.revoked_at.is_(None),
    )
)


def _load(session: Session, claims: AccessClaims) -> Principal | None:
    row = (
        session.connection()
        .execute(_LOAD, {"user_id": claims.user_id, "session_id": claims.session_id})
        .first()
    )
    if row is None:
        return None
    (user_id, org_id, username, display_name, department_id, roles, locale, timezone,
     created_at, started_on,
     org_slug, org_name, org_timezone, org_locale, org_settings) = row  # fmt: skip
    return Principal(
        id=user_id,
        org_id=org_id,
        username=username,
        display_name=display_name,
        department_id=department_id,
        roles=tuple(roles),
        locale=locale,
        timezone=timezone,
        created_at=created_at,
        started_on=started_on,
        organization=OrganizationFacts(
            id=org_id,
            slug=org_slug,
            name=org_name,
            timezone=org_timezone,
            default_locale=org_locale,
            settings=MappingProxyType(dict(org_settings or {})),
        ),
    )


def forget_user(session: Session, user_id: str) -> None:
    """For changes the ORM does not see (bulk UPDATEs of a user's logins)."""
    invalidate(session, _principals, user_id)


@event.listens_for(Session, "after_flush")
def _forget_changed(session: Session, _flush_context: Any) -> None:
    """Any flushed change to a login, a user or an organisation drops what was cached of it."""
    logins: list[str] = []
    users: list[str] = []
    org_changed = False
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, LoginSession):
            logins.append(obj.id)
        elif isinstance(obj, User):
            users.append(obj.id)
        elif isinstance(obj, Organization):
            org_changed = True
    if logins:
        invalidate(session, _open_logins, *logins)
    if org_changed:  # rare (an admin's settings change): every user's copy of its facts
        invalidate(session, _principals)
    elif users:
        invalidate(session, _principals, *users)
