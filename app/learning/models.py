"""Attempts on a module version and the answers given in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (
        # An offline event's client_id is unique per user: the replay guard of /sync.
        UniqueConstraint("user_id", "client_id"),
        Index("ix_attempts_user_module", "user_id", "module_id"),
        Index("ix_attempts_module_version", "module_version_id"),
        # Managers' insights: a department's people's attempts completed in a week.
        Index("ix_attempts_user_completed", "user_id", "completed_at"),
        # A region's insights (migration 0186): who passed the week's modules, and (0188) an
        # organisation's attempts completed in the week, read from the indexes alone on
        # PostgreSQL.
        Index(
            "ix_attempts_passed_module",
            "module_id",
            "user_id",
            postgresql_include=["completed_at"],
            postgresql_where=text("passed"),
            sqlite_where=text("passed"),
        ),
        Index(
            "ix_attempts_org_completed",
            "org_id",
            "completed_at",
            postgresql_include=["user_id", "score_correct", "questions_total"],
        ),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    module_version_id: Mapped[str] = mapped_column(ForeignKey("module_versions.id"))
    module_version: Mapped[int] = mapped_column(Integer)
    questions_total: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    score_correct: Mapped[int | None] = mapped_column(Integer, default=None)
    # How many questions were answered when it was completed: only an attempt that answered
    # every one earns completion points, a learning day or badges (docs/game-rules.md).
    questions_answered: Mapped[int | None] = mapped_column(Integer, default=None)
    passed: Mapped[bool | None] = mapped_column(Boolean, default=None)

    @property
    def finished(self) -> bool:
        """Completed with every question answered."""
        answered = self.questions_answered or 0
        return self.completed_at is not None and answered >= self.questions_total

    # The body `complete` answered with, so calling it again returns exactly the same.
    completion: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("attempt_id", "question_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(26), index=True)
    choice_ids: Mapped[list[str]] = mapped_column(JSON)
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
