"""Modules and their immutable published versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class Module(Base):
    """A module as editors see it: a draft plus a pointer to the newest published version."""

    __tablename__ = "modules"
    __table_args__ = (
        UniqueConstraint("org_id", "key"),
        Index("ix_modules_org_published", "org_id", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # The stable identity of a module that came from a content package (its file name).
    key: Mapped[str | None] = mapped_column(String(100), default=None)
    # draft: never published; published: learners can start it; archived: hidden from new attempts.
    status: Mapped[str] = mapped_column(String(16), default="draft")
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    draft_revision: Mapped[int] = mapped_column(Integer, default=1)
    current_version_id: Mapped[str | None] = mapped_column(String(26), default=None)
    current_version: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModuleVersion(Base):
    """A published snapshot. `content` holds cards, questions, answer keys and translations,
    each with the id learners see; it never changes after publishing."""

    __tablename__ = "module_versions"
    __table_args__ = (UniqueConstraint("module_id", "version"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(String(1000), default=None)
    topic: Mapped[str | None] = mapped_column(String(64), default=None)
    locale: Mapped[str] = mapped_column(String(8))
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=3)
    prerequisites: Mapped[list[str]] = mapped_column(JSON, default=list)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    # SHA-256 of the source body: an unchanged import publishes nothing.
    source_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
