"""The spaced-review schedule: one Leitner card per learner and question, and vacation holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class ReviewItem(Base):
    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("user_id", "question_id"),
        Index("ix_review_items_user_due", "user_id", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    # Question ids belong to one published version; the review asks that version's question.
    module_version_id: Mapped[str] = mapped_column(
        ForeignKey("module_versions.id", ondelete="CASCADE")
    )
    question_id: Mapped[str] = mapped_column(String(26))
    box: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime] = mapped_column()
    reviews: Mapped[int] = mapped_column(Integer, default=0)
    lapses: Mapped[int] = mapped_column(Integer, default=0)
    last_reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewHold(Base):
    """A learner away until `away_until`: reviews pause, and due dates were moved on by the
    length of the hold when it was set (see `rules.hold_shift`)."""

    __tablename__ = "review_holds"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    away_from: Mapped[datetime] = mapped_column()
    away_until: Mapped[datetime] = mapped_column()
