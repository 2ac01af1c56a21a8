"""Organisations, the department tree and user accounts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password
from app.auth.service import revoke_all_logins
from app.errors import Conflict, NotFound, Unprocessable
from app.orgs import facts
from app.orgs.models import ROLES, Department, DepartmentManager, Organization, User

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
    if not _ROSTER_USERNAME.match(admin_username):
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


def create_department(
    session: Session,
    *,
    org_id: str,
    name: str,
    parent_id: str | None = None,
    manager_ids: list[str] | None = None,
) -> Department:
    """A department, optionally under a parent and with managers."""
    if parent_id:
        _check_parent(session, org_id, None, parent_id)
    department = Department(org_id=org_id, name=name, parent_id=parent_id)
    session.add(department)
    session.flush()
    if manager_ids:
        _set_managers(session, department, manager_ids)
    return department


def update_department(
    session: Session, *, org_id: str, department_id: str, changes: dict[str, Any]
) -> Department:
    """Rename, move or change the managers of a department."""
    department = get_department(session, org_id, department_id)
    if "name" in changes:
        department.name = changes["name"]
    if "parent_id" in changes:
        if changes["parent_id"]:
            _check_parent(session, org_id, department.id, changes["parent_id"])
        department.parent_id = changes["parent_id"]
    if "manager_ids" in changes:
        _set_managers(session, department, changes["manager_ids"] or [])
    session.flush()
    return department


def managed_department_ids(session: Session, user: User) -> set[str]:
    """Departments a user may act for: every one for an admin, else those managed and below
    (from the organisation's cached tree)."""
    return set(facts.department_facts(session, user.org_id).managed_by(user))


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
    if department_id:
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
        if changes["department_id"]:
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


@dataclass
class RosterReport:
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


ROSTER_COLUMNS = ("username", "display_name", "department", "roles")
# The same limits as the admin API's schemas (and the columns), so a roster cannot bring in
# what `POST /admin/users` would refuse.
_ROSTER_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,150}$")
MAX_NAME_LENGTH = 200
MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH = 8, 200


def import_roster(
    session: Session, *, org_id: str, csv_text: str, create_departments: bool = False
) -> RosterReport:
    """Create or update users from an HR roster (`username,display_name,department,roles`).

    All or nothing: any row error leaves the database untouched and every error is reported.
    An optional `password` column sets passwords; new users without one cannot log in until
    an admin sets one. An optional `started_on` column (YYYY-MM-DD) sets the first working
    day, which onboarding weeks count from (left empty: unchanged, for a new user the day of
    the import). `roles` is separated by `;` or `|`. Departments are matched by name.
    """
    report = RosterReport()
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [column for column in ROSTER_COLUMNS if column not in header]
    if missing:
        report.errors.append(
            {"row": 1, "field": "header", "message": f"Missing columns: {', '.join(missing)}"}
        )
        return report
    departments = {
        d.name.strip().casefold(): d
        for d in session.scalars(select(Department).where(Department.org_id == org_id))
    }
    existing = {u.username: u for u in session.scalars(select(User).where(User.org_id == org_id))}
    seen: set[str] = set()
    planned: list[tuple[dict[str, str], list[str], str, date | None]] = []
    for line, raw in enumerate(reader, start=2):
        problems: list[tuple[str, str]] = []
        # csv puts the surplus values of a row longer than the header under the key None.
        if raw.pop(None, None) is not None:
            problems.append(("_row", f"More values than the {len(header)} columns."))
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        username = row.get("username", "")
        if not username:
            problems.append(("username", "Required."))
        elif username in seen:
            problems.append(("username", "Appears more than once in the file."))
        elif not _ROSTER_USERNAME.match(username):
            problems.append(("username", "Letters, digits and . _ @ + - only, at most 150."))
        seen.add(username)
        if not row.get("display_name"):
            problems.append(("display_name", "Required."))
        elif len(row["display_name"]) > MAX_NAME_LENGTH:
            problems.append(("display_name", f"At most {MAX_NAME_LENGTH} characters."))
        roles = [r.strip() for r in row.get("roles", "").replace("|", ";").split(";") if r.strip()]
        roles = list(dict.fromkeys(roles)) or ["learner"]
        # PostgreSQL text cannot hold NUL; the username rule above already refuses it there.
        problems.extend(
            (name, "Must not contain NUL characters.")
            for name, value in row.items()
            if "\x00" in value and name != "username"
        )
        problems.extend(("roles", f"Unknown role: {r}") for r in roles if r not in ROLES)
        department_name = row.get("department", "")
        if (
            department_name
            and department_name.casefold() not in departments
            and not create_departments
        ):
            problems.append(("department", f"No department named {department_name!r}."))
        elif len(department_name) > MAX_NAME_LENGTH:
            problems.append(("department", f"At most {MAX_NAME_LENGTH} characters."))
        password = row.get("password", "")
        if password and not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            problems.append(
                (
                    "password",
                    f"Between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters.",
                )
            )
        if username not in existing and row.get("password", "") == "" and "password" in header:
            problems.append(("password", "Required for a new user when the column is present."))
        started = None
        if row.get("started_on"):
            try:
                started = date.fromisoformat(row["started_on"])
            except ValueError:
                problems.append(("started_on", "A date as YYYY-MM-DD."))
        report.errors.extend({"row": line, "field": f, "message": m} for f, m in problems)
        planned.append((row, roles, department_name, started))
    if report.errors:
        return report
    for row, roles, department_name, started in planned:
        department_id = None
        if department_name:
            department = departments.get(department_name.casefold())
            if department is None:
                department = create_department(session, org_id=org_id, name=department_name)
                departments[department_name.casefold()] = department
            department_id = department.id
        user = existing.get(row["username"])
        password = row.get("password") or None
        if user is None:
            session.add(
                User(
                    org_id=org_id,
                    username=row["username"],
                    display_name=row["display_name"],
                    password_hash=hash_password(password) if password else UNUSABLE_PASSWORD,
                    department_id=department_id,
                    roles=roles,
                    started_on=started,
                )
            )
            report.created += 1
        else:
            user.display_name = row["display_name"]
            user.department_id = department_id
            user.roles = roles
            if started:
                user.started_on = started
            if password:
                user.password_hash = hash_password(password)
            report.updated += 1
    session.flush()
    return report


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
