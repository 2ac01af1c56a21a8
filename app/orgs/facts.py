"""An organisation's department tree as read-only facts, cached per process: names, parents
and who manages what. Boards read them on every request; they change only when an admin
creates, renames or moves a department or changes its managers.

Any flushed change to a `Department` or a `DepartmentManager` row drops the organisation's
cached facts (`_forget_changed`); writes the ORM does not see (bulk statements) call `forget`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.caching import LocalCache, invalidate
from app.orgs.models import Department, DepartmentManager


class Viewer(Protocol):
    """What `managed_by` needs of a user: a `User` or an `auth.principal.Principal`."""

    @property
    def id(self) -> str: ...

    def has_role(self, *roles: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class DepartmentFacts:
    org_id: str
    names: Mapping[str, str]  # department id -> name
    children: Mapping[str, tuple[str, ...]]  # department id -> its direct subdepartments
    managed: Mapping[str, tuple[str, ...]]  # user id -> departments they manage directly
    parents: Mapping[str, str | None]  # department id -> the department above it
    # department id -> the department and every department above it, nearest first: the
    # boards an award earned in it counts on (`leaderboards.rules.board_keys`)
    lineages: Mapping[str, tuple[str, ...]]
    leaves: tuple[str, ...]  # the departments without sub-departments, by name then id

    def lineage(self, department_id: str) -> tuple[str, ...]:
        """The department and those above it, nearest first (itself alone if unknown)."""
        return self.lineages.get(department_id) or (department_id,)

    def ancestors(self, department_id: str) -> frozenset[str]:
        """The department and every department above it (none for an unknown one)."""
        found: set[str] = set()
        current: str | None = department_id if department_id in self.names else None
        while current is not None and current not in found:
            found.add(current)
            current = self.parents.get(current)
        return frozenset(found)

    def subtree(self, root_ids: Iterable[str]) -> frozenset[str]:
        """The given departments and everything below them."""
        found: set[str] = set()
        stack = list(root_ids)
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.add(current)
            stack.extend(self.children.get(current, ()))
        return frozenset(found)

    def managed_by(self, user: Viewer) -> frozenset[str]:
        """Every department for an admin, else those the user manages and everything below
        them (`orgs.service.managed_department_ids`)."""
        if user.has_role("admin"):
            return frozenset(self.names)
        if not user.has_role("manager"):
            return frozenset()
        return self.subtree(self.managed.get(user.id, ()))


# Dropped on every change; the ttl only bounds a missed invalidation message.
_departments: LocalCache[DepartmentFacts] = LocalCache("orgs.departments", ttl=600)


def department_facts(session: Session, org_id: str) -> DepartmentFacts:
    """The organisation's departments and managers; two queries on a miss."""
    facts = _departments.fetch(org_id, lambda: _load(session, org_id), session=session)
    assert facts is not None
    return facts


def _load(session: Session, org_id: str) -> DepartmentFacts:
    names: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    children: dict[str, list[str]] = {}
    for dep_id, name, parent_id in session.execute(
        select(Department.id, Department.name, Department.parent_id).where(
            Department.org_id == org_id
        )
    ):
        names[dep_id] = name
        parents[dep_id] = parent_id
        if parent_id is not None:
            children.setdefault(parent_id, []).append(dep_id)
    managed: dict[str, list[str]] = {}
    for user_id, dep_id in session.execute(
        select(DepartmentManager.user_id, DepartmentManager.department_id)
        .join(Department, Department.id == DepartmentManager.department_id)
        .where(Department.org_id == org_id)
    ):
        managed.setdefault(user_id, []).append(dep_id)
    return DepartmentFacts(
        org_id=org_id,
        names=MappingProxyType(names),
        children=MappingProxyType({k: tuple(v) for k, v in children.items()}),
        managed=MappingProxyType({k: tuple(v) for k, v in managed.items()}),
        parents=MappingProxyType(parents),
        lineages=MappingProxyType({dep_id: _lineage(dep_id, parents) for dep_id in names}),
        leaves=tuple(sorted((d for d in names if d not in children), key=lambda d: (names[d], d))),
    )


def _lineage(department_id: str, parents: Mapping[str, str | None]) -> tuple[str, ...]:
    found: list[str] = []
    current: str | None = department_id
    while current is not None and current in parents and current not in found:  # no cycles
        found.append(current)
        current = parents[current]
    return tuple(found)


def forget(session: Session, org_id: str) -> None:
    """For changes the ORM does not see (bulk statements on departments or managers)."""
    invalidate(session, _departments, org_id)


@event.listens_for(Session, "after_flush")
def _forget_changed(session: Session, _flush_context: Any) -> None:
    org_ids: set[str] = set()
    managed_departments: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Department):
            org_ids.add(obj.org_id)
        elif isinstance(obj, DepartmentManager):
            managed_departments.add(obj.department_id)
    if managed_departments:  # a manager row names its department, not its organisation
        org_ids.update(
            session.connection().scalars(
                select(Department.org_id).where(Department.id.in_(managed_departments))
            )
        )
    if org_ids:
        invalidate(session, _departments, *org_ids)
