"""What the boards keep in the database: repair markers and archived past periods."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class BoardRepair(Base):
    """An organisation whose Redis boards missed an update (Redis was down): rebuild them."""

    __tablename__ = "leaderboard_repairs"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArchivedPeriod(Base):
    """A finished week or month whose boards were copied to `leaderboard_archive`."""

    __tablename__ = "leaderboard_archived_periods"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    window: Mapped[str] = mapped_column(String(10), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    archived_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A late offline award landed in this period after archiving: recompute on the next read.
    stale: Mapped[bool] = mapped_column(Boolean, default=False)


class ArchivedStanding(Base):
    """One member's final place on one board of an archived period."""

    __tablename__ = "leaderboard_archive"
    __table_args__ = (
        Index("ix_leaderboard_archive_board", "org_id", "window", "period", "board", "rank"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    window: Mapped[str] = mapped_column(String(10))
    period: Mapped[str] = mapped_column(String(10))
    board: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(26))
    rank: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    reached_at: Mapped[datetime] = mapped_column()
