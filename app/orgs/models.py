"""Organisations, their department tree and their users."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.db import Base, new_id, utcnow

ROLES = ("learner", "manager", "editor", "admin")


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Oslo")
    default_locale: Mapped[str] = mapped_column(String(8), default="nb")
    # Per-organisation knobs (points rules, caps); absent keys fall back to the defaults in code.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def department_name_key(name: str) -> str:
    """What makes two department names the same: case, Unicode form and spacing aside
    (`Kasse`, ` kasse `, `KASSE`). The roster import matches names by it too."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (
        Index("ix_departments_org_name", "org_id", "name"),
        # Names are unique among siblings. A unique index treats NULLs as distinct (in both
        # PostgreSQL and SQLite), so top-level departments (no parent) get their own index.
        Index(
            "uq_departments_top_level_name",
            "org_id",
            "name_key",
            unique=True,
            postgresql_where=text("parent_id IS NULL"),
            sqlite_where=text("parent_id IS NULL"),
        ),
        Index(
            "uq_departments_sibling_name",
            "parent_id",
            "name_key",
            unique=True,
            postgresql_where=text("parent_id IS NOT NULL"),
            sqlite_where=text("parent_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # department_name_key(name), kept by the validator below; compared by the unique indexes,
    # so both databases apply the same case-blind rule (SQLite's lower() folds ASCII only).
    name_key: Mapped[str | None] = mapped_column(String(400), default=None)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("departments.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        self.name_key = department_name_key(name)
        return name

    # Loaded when asked for (the admin list asks for it with selectinload): a department is
    # joined to every loaded user, and most requests never look at its managers.
    managers: Mapped[list[User]] = relationship(
        secondary="department_managers", order_by="User.username"
    )


class DepartmentManager(Base):
    __tablename__ = "department_managers"

    department_id: Mapped[str] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("org_id", "username"),
        Index("ix_users_department", "department_id"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(150))
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[str | None] = mapped_column(ForeignKey("departments.id"), default=None)
    roles: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["learner"])
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    quiet_hours_start: Mapped[str | None] = mapped_column(String(5), default=None)
    quiet_hours_end: Mapped[str | None] = mapped_column(String(5), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The first working day, for onboarding weeks; None: the day the account was created
    # (set it when importing people who started long before).
    started_on: Mapped[date | None] = mapped_column(default=None)
    last_active_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when the person's data was erased: the row is then an anonymous placeholder that
    # keeps their points and answers counted.
    erased_at: Mapped[datetime | None] = mapped_column(default=None)
    # The HR system's own id for the person (SCIM `externalId`).
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    department: Mapped[Department | None] = relationship(lazy="joined")

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)
