"""Time-boxed competitions between departments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class Competition(Base):
    __tablename__ = "competitions"
    __table_args__ = (
        Index("ix_competitions_org_ends", "org_id", "ends_at"),
        Index("ix_competitions_due", "finished_at", "ends_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    metric: Mapped[str] = mapped_column(String(16))  # total | per_member
    department_ids: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once by `finish_due_competitions`: the frozen standings and the winner.
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    winner_department_id: Mapped[str | None] = mapped_column(String(26), default=None)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)

    def status(self, now: datetime) -> str:
        if self.finished_at is not None or now >= self.ends_at:
            return "finished"
        return "active" if now >= self.starts_at else "upcoming"
