"""Devices that receive pushes, per-type opt-outs, and notifications (outbox and inbox in one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow

PLATFORMS = ("android", "ios", "web")


class Device(Base):
    """One app installation of a user and its current FCM registration token."""

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("user_id", "installation_id"),
        # Within an organisation a token reaches one installation (see register_device);
        # the same phone may serve someone's logins in two organisations.
        UniqueConstraint("org_id", "token"),
        Index("ix_devices_last_seen_at", "last_seen_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    installation_id: Mapped[str] = mapped_column(String(128))
    token: Mapped[str] = mapped_column(String(1024))
    platform: Mapped[str] = mapped_column(String(16))
    app_version: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set on every registration; the app re-registers on start, so an old value means unused.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationOptOut(Base):
    """A user who does not want pushes of one type (they still land in the inbox)."""

    __tablename__ = "notification_opt_outs"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(40), primary_key=True)


class Notification(Base):
    """A message to one user: the inbox row and, while `status` is pending, the push outbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The "safe to run twice" guard of scheduled jobs and the nudge rate limit.
        UniqueConstraint("user_id", "dedupe_key"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index("ix_notifications_status_deliver_after", "status", "deliver_after"),
        Index("ix_notifications_claim_token", "claim_token"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    locale: Mapped[str] = mapped_column(String(8))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # In the inbox from this moment (a scheduled one appears when it is due; retries and
    # quiet hours only delay the push, not the inbox).
    visible_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Not before this moment (already moved out of the user's quiet hours).
    deliver_after: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    # pending -> sending -> delivered | pending (retry) | expired | failed; skipped never pushes.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    skip_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    # The user's local date the push counts against for the daily cap.
    push_day: Mapped[str | None] = mapped_column(String(10), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    devices_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
