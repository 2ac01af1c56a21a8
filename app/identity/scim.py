"""SCIM 2.0 provisioning (RFC 7643/7644) for one organisation per bearer token: Users are the
organisation's accounts, Groups are its departments (members = the people in it).

Payloads are parsed, patched and written with `scim2-models`; this module maps them onto our
rows. Every function takes the organisation from the token, never from the request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_models import (
    Context,
    EnterpriseUser,
    Group,
    GroupMember,
    GroupMembership,
    InvalidFilterException,
    InvalidValueException,
    ListResponse,
    Meta,
    Name,
    NotFoundException,
    PatchOp,
    Reference,
    ScimFilter,
    UniquenessException,
    User,
)
from scim2_models.exceptions import MutabilityException
from scim2_models.path.expressions import CompareOperator, Comparison
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password
from app.errors import NotFound
from app.identity import rules
from app.identity.models import ScimToken
from app.orgs import service as orgs
from app.orgs.models import Department
from app.orgs.models import User as Account
from app.orgs.service import UNUSABLE_PASSWORD

ScimUser = User[EnterpriseUser]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MAX_COUNT = 200


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedScimToken:
    id: str
    token: str
    created_at: datetime


def create_token(
    session: Session, *, org_id: str, created_by: str, now: datetime
) -> IssuedScimToken:
    """A new SCIM bearer token for the organisation, returned once; only its hash is kept."""
    token = "scim_" + secrets.token_urlsafe(32)
    row = ScimToken(org_id=org_id, token_hash=_hash(token), created_by=created_by, created_at=now)
    session.add(row)
    session.flush()
    return IssuedScimToken(id=row.id, token=token, created_at=now)


def list_tokens(session: Session, *, org_id: str) -> list[ScimToken]:
    """The organisation's SCIM tokens (never the tokens themselves), newest first."""
    return list(
        session.scalars(
            select(ScimToken).where(ScimToken.org_id == org_id).order_by(ScimToken.id.desc())
        )
    )


def revoke_token(session: Session, *, org_id: str, token_id: str, now: datetime) -> None:
    """Stop a SCIM token at once."""
    row = session.get(ScimToken, token_id)
    if row is None or row.org_id != org_id:
        raise NotFound("No such SCIM token.")
    if row.revoked_at is None:
        row.revoked_at = now
    session.flush()


def organisation_of_token(session: Session, *, token: str) -> str | None:
    """The organisation a live SCIM token provisions, or None."""
    return session.scalar(
        select(ScimToken.org_id).where(
            ScimToken.token_hash == _hash(token), ScimToken.revoked_at.is_(None)
        )
    )


# --- users -------------------------------------------------------------------------------


def user_resource(account: Account, base_url: str) -> ScimUser:
    """An account as a SCIM User (its department also as the enterprise `department`)."""
    department = account.department
    resource = ScimUser(
        id=account.id,
        external_id=account.external_id,
        user_name=account.username,
        display_name=account.display_name,
        name=Name(formatted=account.display_name),
        active=account.active,
        groups=(
            [
                GroupMembership(
                    value=department.id,
                    ref=Reference[Group](f"{base_url}/Groups/{department.id}"),
                    display=department.name,
                    type="direct",
                )
            ]
            if department
            else None
        ),
        meta=Meta(
            resource_type="User",
            created=account.created_at,
            last_modified=account.created_at,
            location=f"{base_url}/Users/{account.id}",
        ),
    )
    if department:
        resource[EnterpriseUser] = EnterpriseUser(department=department.name)
    return resource


def parse_user(payload: Any, context: Context) -> ScimUser:
    """A User request body, validated by the SCIM rules of the operation."""
    return ScimUser.model_validate(payload, scim_ctx=context)


def _account(session: Session, org_id: str, user_id: str) -> Account:
    account = session.get(Account, user_id)
    if account is None or account.org_id != org_id or account.erased_at is not None:
        raise NotFoundException(detail=f"No user {user_id}.")
    return account


def get_user(session: Session, *, org_id: str, user_id: str) -> Account:
    """One of the organisation's accounts (erased placeholders are nobody's)."""
    return _account(session, org_id, user_id)


def _display_name(resource: ScimUser) -> str:
    if resource.display_name:
        return resource.display_name
    name = resource.name
    if name is not None:
        if name.formatted:
            return name.formatted
        parts = [part for part in (name.given_name, name.family_name) if part]
        if parts:
            return " ".join(parts)
    return str(resource.user_name)


def _check_username(session: Session, *, org_id: str, username: str, own_id: str | None) -> None:
    if not rules.USERNAME.match(username):
        raise InvalidValueException(
            detail="userName: letters, digits and . _ @ + - only, at most 150."
        )
    stmt = select(Account.id).where(
        Account.org_id == org_id, func.lower(Account.username) == username.lower()
    )
    if own_id is not None:
        stmt = stmt.where(Account.id != own_id)
    if session.scalar(stmt):
        raise UniquenessException(detail=f"userName {username!r} is taken.")


def _apply_user(
    session: Session, account: Account, resource: ScimUser, *, org_id: str, now: datetime
) -> None:
    """Write a whole SCIM User onto a saved account (create and replace; a patch is applied
    to the account's resource first)."""
    username = str(resource.user_name or "")
    _check_username(session, org_id=org_id, username=username, own_id=account.id)
    display_name = _display_name(resource)[:200].strip()
    if not display_name:
        raise InvalidValueException(detail="displayName must not be empty.")
    account.username = username
    account.display_name = display_name
    account.external_id = str(resource.external_id)[:255] if resource.external_id else None
    enterprise = resource[EnterpriseUser]
    if enterprise is not None and enterprise.department:
        department = session.scalar(
            select(Department).where(
                Department.org_id == org_id,
                func.lower(Department.name) == enterprise.department.lower(),
            )
        )
        if department is None:
            raise InvalidValueException(
                detail=f"No department (Group) named {enterprise.department!r}."
            )
        account.department_id = department.id
    if resource.password:
        account.password_hash = hash_password(str(resource.password))
    session.flush()
    active = resource.active if resource.active is not None else True
    if active != account.active:
        # Through the admin service: deactivation ends every login at once.
        orgs.update_user(
            session, org_id=org_id, user_id=account.id, changes={"active": active}, now=now
        )


def create_user(session: Session, *, org_id: str, resource: ScimUser, now: datetime) -> Account:
    """A new account from a SCIM User (a learner; roles are the organisation's to give)."""
    username = str(resource.user_name or "")
    # Checked before the row exists, so a refused user is never half-made.
    _check_username(session, org_id=org_id, username=username, own_id=None)
    account = Account(
        org_id=org_id,
        username=username,
        display_name=username,
        password_hash=UNUSABLE_PASSWORD,
        roles=["learner"],
        active=True,
        created_at=now,
    )
    try:
        # In a savepoint: two creations of one userName at once end as one 409, not a 500.
        with session.begin_nested():
            session.add(account)
    except IntegrityError:
        raise UniquenessException(detail=f"userName {username!r} is taken.") from None
    _apply_user(session, account, resource, org_id=org_id, now=now)
    session.refresh(account)
    return account


def replace_user(
    session: Session, *, org_id: str, user_id: str, resource: ScimUser, now: datetime
) -> Account:
    """PUT: the account becomes what the SCIM User says."""
    account = _account(session, org_id, user_id)
    _apply_user(session, account, resource, org_id=org_id, now=now)
    session.refresh(account)
    return account


def patch_user(
    session: Session, *, org_id: str, user_id: str, payload: Any, base_url: str, now: datetime
) -> Account:
    """PATCH: the operations applied to the account as a SCIM User, then written back."""
    account = _account(session, org_id, user_id)
    patch = PatchOp[ScimUser].model_validate(payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    resource = user_resource(account, base_url)
    resource.groups = None  # read-only here: membership changes through Groups
    patch.patch(resource)
    _apply_user(session, account, resource, org_id=org_id, now=now)
    session.refresh(account)
    return account


def deactivate_user(session: Session, *, org_id: str, user_id: str, now: datetime) -> None:
    """DELETE: the person is deactivated (history kept), every login ends."""
    account = _account(session, org_id, user_id)
    orgs.update_user(session, org_id=org_id, user_id=account.id, changes={"active": False}, now=now)


_USER_FILTERS = {
    "username": Account.username,
    "externalid": Account.external_id,
    "id": Account.id,
    "displayname": Account.display_name,
}
_GROUP_FILTERS = {"displayname": Department.name, "id": Department.id}


def _equality(filter_text: str | None, columns: dict[str, Any]) -> Any:
    """The WHERE clause of a filter `attr eq "value"` on one of `columns` (the filters an HR
    system sends to find a record before creating it); others are refused (400)."""
    if not filter_text:
        return None
    node = ScimFilter(filter_text).ast  # raises InvalidFilterException on bad syntax
    if not isinstance(node, Comparison) or node.op is not CompareOperator.eq:
        raise InvalidFilterException(detail='Only `attribute eq "value"` filters are supported.')
    name = str(node.attr_path).rsplit(":", 1)[-1].casefold()
    column = columns.get(name)
    if column is None or not isinstance(node.value, str):
        raise InvalidFilterException(detail=f"Filtering on {node.attr_path} is not supported.")
    if name in ("username", "displayname"):  # caseExact false (RFC 7643)
        return func.lower(column) == node.value.lower()
    return column == node.value


def _window(start_index: int | None, count: int | None) -> tuple[int, int]:
    start = max(1, start_index or 1)
    size = MAX_COUNT if count is None else max(0, min(count, MAX_COUNT))
    return start, size


def list_users(
    session: Session,
    *,
    org_id: str,
    filter_text: str | None,
    start_index: int | None,
    count: int | None,
    base_url: str,
) -> ListResponse[ScimUser]:
    """Users, filtered and paged by `startIndex` (1-based) and `count`."""
    stmt = select(Account).where(Account.org_id == org_id, Account.erased_at.is_(None))
    where = _equality(filter_text, _USER_FILTERS)
    if where is not None:
        stmt = stmt.where(where)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    start, size = _window(start_index, count)
    accounts = list(session.scalars(stmt.order_by(Account.id).offset(start - 1).limit(size)))
    return ListResponse[ScimUser](
        total_results=total,
        start_index=start,
        items_per_page=len(accounts),
        resources=[user_resource(account, base_url) for account in accounts],
    )


# --- groups (departments) ------------------------------------------------------------------


def group_resource(session: Session, department: Department, base_url: str) -> Group:
    """A department as a SCIM Group; its members are the people in it."""
    people = session.execute(
        select(Account.id, Account.display_name)
        .where(Account.department_id == department.id, Account.erased_at.is_(None))
        .order_by(Account.id)
    ).all()
    return Group(
        id=department.id,
        display_name=department.name,
        members=[
            GroupMember(
                value=uid,
                ref=Reference[User[Any] | Group](f"{base_url}/Users/{uid}"),
                display=name,
                type="User",
            )
            for uid, name in people
        ]
        or None,
        meta=Meta(
            resource_type="Group",
            created=department.created_at,
            last_modified=department.created_at,
            location=f"{base_url}/Groups/{department.id}",
        ),
    )


def parse_group(payload: Any, context: Context) -> Group:
    """A Group request body, validated by the SCIM rules of the operation."""
    return Group.model_validate(payload, scim_ctx=context)


def _department(session: Session, org_id: str, group_id: str) -> Department:
    department = session.get(Department, group_id)
    if department is None or department.org_id != org_id:
        raise NotFoundException(detail=f"No group {group_id}.")
    return department


def get_group(session: Session, *, org_id: str, group_id: str) -> Department:
    """One of the organisation's departments."""
    return _department(session, org_id, group_id)


def _apply_group(session: Session, department: Department, resource: Group, *, org_id: str) -> None:
    name = str(resource.display_name or "").strip()
    if not 1 <= len(name) <= 200:
        raise InvalidValueException(detail="displayName: between 1 and 200 characters.")
    _refuse_taken_name(session, org_id, department.parent_id, name, department.id)
    department.name = name
    session.flush()
    wanted = {str(member.value) for member in resource.members or [] if member.value}
    if wanted:
        found = set(
            session.scalars(
                select(Account.id).where(
                    Account.id.in_(wanted), Account.org_id == org_id, Account.erased_at.is_(None)
                )
            )
        )
        unknown = wanted - found
        if unknown:
            # Another organisation's people are as unknown as made-up ids.
            raise InvalidValueException(detail=f"Unknown members: {', '.join(sorted(unknown))}.")
    # Through the ORM, not bulk UPDATEs: a person's department is in what every process
    # caches of them (logins, board names), and only flushed rows drop those caches.
    moving = session.scalars(
        select(Account).where(
            or_(
                Account.id.in_(wanted) & (Account.department_id.is_distinct_from(department.id)),
                (Account.department_id == department.id) & Account.id.not_in(wanted),
            )
        )
    )
    for account in list(moving):
        # A person is in one department: joining this one moves them out of their last.
        account.department_id = department.id if account.id in wanted else None
    session.flush()


def _refuse_taken_name(
    session: Session, org_id: str, parent_id: str | None, name: str, department_id: str | None
) -> None:
    """Department names are unique among siblings: SCIM's 409 `uniqueness` for a taken one."""
    taken = orgs.sibling_named(session, org_id=org_id, parent_id=parent_id, name=name)
    if taken is not None and taken.id != department_id:
        raise UniquenessException(detail=f"displayName {name!r} is taken by group {taken.id}.")


def create_group(session: Session, *, org_id: str, resource: Group) -> Department:
    """A new (top-level) department from a SCIM Group."""
    name = str(resource.display_name or "").strip()[:200] or "?"
    _refuse_taken_name(session, org_id, None, name, None)
    department = orgs.create_department(session, org_id=org_id, name=name)
    _apply_group(session, department, resource, org_id=org_id)
    return department


def replace_group(session: Session, *, org_id: str, group_id: str, resource: Group) -> Department:
    """PUT: the department gets the Group's name and exactly its members."""
    department = _department(session, org_id, group_id)
    _apply_group(session, department, resource, org_id=org_id)
    return department


def patch_group(
    session: Session, *, org_id: str, group_id: str, payload: Any, base_url: str
) -> Department:
    """PATCH: rename, add or remove members (moving people between departments)."""
    department = _department(session, org_id, group_id)
    patch = PatchOp[Group].model_validate(payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    resource = group_resource(session, department, base_url)
    patch.patch(resource)
    _apply_group(session, department, resource, org_id=org_id)
    return department


def delete_group(session: Session, *, org_id: str, group_id: str) -> None:
    """Departments are kept for the boards' history: refused (400 `mutability`), whatever the
    group holds."""
    _department(session, org_id, group_id)
    raise MutabilityException(
        detail="Departments are kept for their history; rename the group or move its members."
    )


def list_groups(
    session: Session,
    *,
    org_id: str,
    filter_text: str | None,
    start_index: int | None,
    count: int | None,
    base_url: str,
) -> ListResponse[Group]:
    """Groups (departments), filtered and paged."""
    stmt = select(Department).where(Department.org_id == org_id)
    where = _equality(filter_text, _GROUP_FILTERS)
    if where is not None:
        stmt = stmt.where(where)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    start, size = _window(start_index, count)
    departments = session.scalars(stmt.order_by(Department.id).offset(start - 1).limit(size))
    resources = [group_resource(session, department, base_url) for department in departments]
    return ListResponse[Group](
        total_results=total, start_index=start, items_per_page=len(resources), resources=resources
    )
