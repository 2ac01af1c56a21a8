"""The points ledger: append-only, one row per award, the source of every total and board."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class PointAward(Base):
    __tablename__ = "point_awards"
    __table_args__ = (
        # The guard against paying twice: a retry, a replayed event or a race hits this.
        UniqueConstraint("user_id", "source_key"),
        Index("ix_point_awards_user_id", "user_id", "id"),
        # An organisation's awards in a period; with the user and the points on PostgreSQL
        # (migration 0188), a region's week of points is read from the index alone.
        Index(
            "ix_point_awards_org_earned",
            "org_id",
            "earned_at",
            postgresql_include=["user_id", "points"],
        ),
        # Totals by user and day (daily cap, streak facts) without touching other users' rows.
        Index("ix_point_awards_user_earned", "user_id", "earned_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The department at the time of the award: boards do not move when someone changes store.
    department_id: Mapped[str | None] = mapped_column(String(26), default=None)
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    source_key: Mapped[str] = mapped_column(String(120))
    module_id: Mapped[str | None] = mapped_column(String(26), default=None)
    # When the learning happened (an offline attempt's completed_at); boards count this.
    earned_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LearningDay(Base):
    """A local calendar day on which the user learned (completed a module or a review).

    The day is fixed in the user's time zone when it happens, so DST and travel never move it.
    """

    __tablename__ = "learning_days"
    __table_args__ = (
        UniqueConstraint("user_id", "day"),
        # The evening streak-at-risk job looks for everyone who learned in the last two days.
        Index("ix_learning_days_first_at", "first_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)


class EarnedBadge(Base):
    """A badge a user earned; `period` is "" for once-ever badges, else a week or competition."""

    __tablename__ = "earned_badges"
    __table_args__ = (
        UniqueConstraint("user_id", "code", "period"),
        Index("ix_earned_badges_user_earned", "user_id", "earned_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(40), default="")
    earned_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlayerProfile(Base):
    """A learner's game settings; no row means the defaults."""

    __tablename__ = "player_profiles"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # "everyone": my name on every board; "department": outside my department I am "a colleague".
    leaderboard_visibility: Mapped[str] = mapped_column(String(16), default="everyone")
