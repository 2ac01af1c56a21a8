"""Organisations, the department tree and user accounts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password
from app.auth.service import revoke_all_logins
from app.errors import Conflict, NotFound, Unprocessable
from app.orgs import facts
from app.orgs.models import (
    ROLES,
    Department,
    DepartmentManager,
    Organization,
    User,
    department_name_key,
)

_SLUG = re.compile(r"^(?=.{1,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
UNUSABLE_PASSWORD = "!"  # never matches: an imported user without a password cannot log in yet


def create_organization(
    session: Session,
    *,
    slug: str,
    name: str,
    admin_username: str,
    admin_password: str,
    timezone: str = "Europe/Oslo",
    default_locale: str = "nb",
) -> Organization:
    """A new organisation with its first admin."""
    problems: dict[str, list[str]] = {}
    if not _SLUG.match(slug):
        problems["slug"] = ["Lowercase letters, digits and single hyphens, at most 63."]
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        problems["name"] = [f"Between 1 and {MAX_NAME_LENGTH} characters."]
    if not USERNAME_PATTERN.match(admin_username):
        problems["admin"] = ["Letters, digits and . _ @ + - only, at most 150."]
    if not MIN_PASSWORD_LENGTH <= len(admin_password) <= MAX_PASSWORD_LENGTH:
        problems["password"] = [
            f"Between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters."
        ]
    if timezone not in available_timezones():
        problems["timezone"] = [f"Unknown time zone {timezone!r}."]
    if problems:
        raise Unprocessable("The organization cannot be created.", errors=problems)
    if session.scalar(select(Organization).where(Organization.slug == slug)):
        raise Conflict(f"An organization with slug {slug!r} already exists.")
    org = Organization(slug=slug, name=name, timezone=timezone, default_locale=default_locale)
    session.add(org)
    session.flush()
    session.add(
        User(
            org_id=org.id,
            username=admin_username,
            display_name=admin_username,
            password_hash=hash_password(admin_password),
            roles=["admin"],
        )
    )
    session.flush()
    return org


def get_department(session: Session, org_id: str, department_id: str) -> Department:
    """A department of this organisation, or 404."""
    department = session.get(Department, department_id)
    if department is None or department.org_id != org_id:
        raise NotFound("No such department.")
    return department


def get_user(session: Session, org_id: str, user_id: str) -> User:
    """A user of this organisation, or 404."""
    user = session.get(User, user_id)
    if user is None or user.org_id != org_id:
        raise NotFound("No such user.")
    return user


def department_subtree_ids(session: Session, org_id: str, root_ids: Iterable[str]) -> set[str]:
    """The given departments and everything below them (from the organisation's cached tree)."""
    return set(facts.department_facts(session, org_id).subtree(root_ids))


def _check_parent(session: Session, org_id: str, department_id: str | None, parent_id: str) -> None:
    get_department(session, org_id, parent_id)
    if department_id is not None and department_id in {parent_id} | _ancestors(session, parent_id):
        raise Unprocessable(
            "A department cannot be placed under itself.",
            errors={"parent_id": ["Would create a cycle in the department tree."]},
        )


def _ancestors(session: Session, department_id: str) -> set[str]:
    seen: set[str] = set()
    current = session.get(Department, department_id)
    while current is not None and current.parent_id and current.parent_id not in seen:
        seen.add(current.parent_id)
        current = session.get(Department, current.parent_id)
    return seen


def _set_managers(session: Session, department: Department, manager_ids: list[str]) -> None:
    # dict.fromkeys: the same id twice must not insert the same (department, user) row twice.
    managers = [get_user(session, department.org_id, uid) for uid in dict.fromkeys(manager_ids)]
    session.execute(
        delete(DepartmentManager).where(DepartmentManager.department_id == department.id)
    )
    facts.forget(session, department.org_id)  # the bulk delete is invisible to the ORM
    for manager in managers:
        session.add(DepartmentManager(department_id=department.id, user_id=manager.id))
        if "manager" not in manager.roles:
            manager.roles = [*manager.roles, "manager"]
    session.flush()
    session.expire(department, ["managers"])


def sibling_named(
    session: Session, *, org_id: str, parent_id: str | None, name: str
) -> Department | None:
    """The department under `parent_id` (top level: None) whose name is `name`, case aside."""
    parent = Department.parent_id == parent_id if parent_id else Department.parent_id.is_(None)
    return session.scalar(
        select(Department).where(
            Department.org_id == org_id,
            parent,
            Department.name_key == department_name_key(name),
        )
    )


def _refuse_taken_name(
    session: Session, org_id: str, parent_id: str | None, name: str, department_id: str | None
) -> None:
    existing = sibling_named(session, org_id=org_id, parent_id=parent_id, name=name)
    if existing is not None and existing.id != department_id:
        raise _name_taken(existing)


def _name_taken(existing: Department) -> Conflict:
    where = "under the same parent" if existing.parent_id else "at the top level"
    return Conflict(
        f"A department named {existing.name!r} already exists {where}.",
        errors={"name": ["Names are unique among departments with the same parent."]},
        extra={"existing_id": existing.id},
    )


def _flush_department(session: Session, department: Department) -> None:
    """Flush, turning a sibling with the same name written at the same moment into 409."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        existing = sibling_named(
            session, org_id=department.org_id, parent_id=department.parent_id, name=department.name
        )
        if existing is None:
            raise
        raise _name_taken(existing) from None


def create_department(
    session: Session,
    *,
    org_id: str,
    name: str,
    parent_id: str | None = None,
    manager_ids: list[str] | None = None,
) -> Department:
    """A department, optionally under a parent and with managers; a sibling with the same
    name (case aside) is a 409 naming it."""
    if parent_id is not None:
        _check_parent(session, org_id, None, parent_id)
    _refuse_taken_name(session, org_id, parent_id, name, None)
    department = Department(org_id=org_id, name=name, parent_id=parent_id)
    session.add(department)
    _flush_department(session, department)
    if manager_ids:
        _set_managers(session, department, manager_ids)
    return department


def update_department(
    session: Session, *, org_id: str, department_id: str, changes: dict[str, Any]
) -> Department:
    """Rename, move or change the managers of a department."""
    department = get_department(session, org_id, department_id)
    if changes.get("parent_id"):
        _check_parent(session, org_id, department.id, changes["parent_id"])
    name = changes.get("name", department.name)
    parent_id = changes.get("parent_id", department.parent_id)
    _refuse_taken_name(session, org_id, parent_id, name, department.id)
    department.name = name
    department.parent_id = parent_id
    _flush_department(session, department)
    if "manager_ids" in changes:
        _set_managers(session, department, changes["manager_ids"] or [])
    session.flush()
    return department


def managed_department_ids(session: Session, user: User) -> set[str]:
    """Departments a user may act for: every one for an admin, else those managed and below
    (from the organisation's cached tree)."""
    return set(facts.department_facts(session, user.org_id).managed_by(user))


def departments_managed_by(session: Session, user: User) -> list[dict[str, str]]:
    """The departments a manager is named for (not those below them), by name."""
    if not user.has_role("manager"):
        return []
    tree = facts.department_facts(session, user.org_id)
    managed = tree.managed.get(user.id, ())
    return [
        {"id": department_id, "name": tree.names[department_id]}
        for department_id in sorted(managed, key=lambda d: (tree.names[d], d))
    ]


def _validate_roles(roles: list[str]) -> list[str]:
    """The roles without repeats, in the order given; 422 for an unknown one."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise Unprocessable(
            "Unknown roles.", errors={"roles": [f"Unknown role: {role}" for role in unknown]}
        )
    return list(dict.fromkeys(roles))


def create_user(
    session: Session,
    *,
    org_id: str,
    username: str,
    display_name: str,
    password: str,
    department_id: str | None,
    roles: list[str],
    started_on: date | None = None,
) -> User:
    """A new account in the organisation."""
    roles = _validate_roles(roles)
    if department_id is not None:
        get_department(session, org_id, department_id)
    if session.scalar(select(User.id).where(User.org_id == org_id, User.username == username)):
        raise Conflict(
            "That username is taken.", errors={"username": ["Already exists in this organization."]}
        )
    user = User(
        org_id=org_id,
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        department_id=department_id,
        roles=roles or ["learner"],
        started_on=started_on,
    )
    session.add(user)
    session.flush()
    return user


def update_user(
    session: Session, *, org_id: str, user_id: str, changes: dict[str, Any], now: datetime
) -> User:
    """Change an account; `active: false` deactivates it and ends its logins, keeping history."""
    user = get_user(session, org_id, user_id)
    if "roles" in changes:
        user.roles = _validate_roles(changes["roles"])
    if "department_id" in changes:
        if changes["department_id"] is not None:
            get_department(session, org_id, changes["department_id"])
        user.department_id = changes["department_id"]
    if "username" in changes and changes["username"] != user.username:
        taken = session.scalar(
            select(User.id).where(User.org_id == org_id, User.username == changes["username"])
        )
        if taken:
            raise Conflict(
                "That username is taken.",
                errors={"username": ["Already exists in this organization."]},
            )
        user.username = changes["username"]
    if "display_name" in changes:
        user.display_name = changes["display_name"]
    if "started_on" in changes:
        user.started_on = changes["started_on"]
    if "password" in changes:
        user.password_hash = hash_password(changes["password"])
        revoke_all_logins(session, user_id=user.id, now=now, reason="password_changed")
    if "active" in changes:
        user.active = changes["active"]
        if not user.active:
            revoke_all_logins(session, user_id=user.id, now=now, reason="deactivated")
    session.flush()
    session.refresh(user)
    return user


ROSTER_COLUMNS = ("username", "display_name", "department", "roles")
# The same limits as the admin API's schemas (and the columns), so a roster cannot bring in
# what `POST /admin/users` would refuse.
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._@+-]{1,150}$")
MAX_NAME_LENGTH = 200
MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH = 8, 200


def update_profile(
    session: Session, *, user: User, changes: dict[str, Any], now: datetime | None = None
) -> User:
    """The learner's own settings (`PATCH /me`); `away_until` starts or ends a review hold."""
    for name in ("display_name", "locale", "timezone"):
        if name in changes:
            setattr(user, name, changes[name])
    if "quiet_hours" in changes:
        quiet = changes["quiet_hours"]
        user.quiet_hours_start = quiet["start"] if quiet else None
        user.quiet_hours_end = quiet["end"] if quiet else None
    if "away_until" in changes and now is not None:
        from app.reviews.service import set_away  # reviews builds on orgs, not the other way

        set_away(session, user=user, until=changes["away_until"], now=now)
    session.flush()
    return user
