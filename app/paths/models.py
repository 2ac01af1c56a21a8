"""Weekly paths (and onboarding templates) of modules, and competence requirements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, new_id, utcnow


class LearningPath(Base):
    """Either a path for one calendar week (`week`) or an onboarding template for the n-th
    week after each learner's start (`onboarding_week`); exactly one of the two is set."""

    __tablename__ = "learning_paths"
    __table_args__ = (
        Index("ix_learning_paths_org_week", "org_id", "week"),
        Index("ix_learning_paths_org_onboarding", "org_id", "onboarding_week"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    # The title in other languages: {"en": {"title": "..."}}, as a module's translations.
    translations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    week: Mapped[str | None] = mapped_column(String(8), default=None)
    onboarding_week: Mapped[int | None] = mapped_column(Integer, default=None)
    # Departments include their sub-departments; an empty list means "every department".
    audience_department_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    audience_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    sequential: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    steps: Mapped[list[PathModule]] = relationship(
        order_by="PathModule.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    def audience(self) -> dict[str, Any]:
        return {"department_ids": self.audience_department_ids, "roles": self.audience_roles}


class PathModule(Base):
    """One module of a path. It points at the module, never a version: learners always start
    the newest version, and progress on an older one still counts."""

    __tablename__ = "path_modules"

    path_id: Mapped[str] = mapped_column(
        ForeignKey("learning_paths.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True)


class Requirement(Base):
    """A module the organisation requires of a role and/or a department (with its
    sub-departments), passed within `validity_months` if set."""

    __tablename__ = "competence_requirements"
    __table_args__ = (Index("ix_competence_requirements_org", "org_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    role: Mapped[str | None] = mapped_column(String(16), default=None)
    department_id: Mapped[str | None] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), default=None
    )
    validity_months: Mapped[int | None] = mapped_column(Integer, default=None)
    due_within_days: Mapped[int] = mapped_column(Integer, default=30)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
