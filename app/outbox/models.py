"""The outbox of deliveries to outside systems (xAPI statements, digests): one row per message,
written in the same transaction as the change it reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class OutboxMessage(Base):
    """A message for one channel's far side; deleted once delivered, parked when refused."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The claim walks a channel's pending messages oldest first.
        Index("ix_outbox_messages_pending", "channel", "status", "id"),
        # Order per key: the earliest undelivered message of a key goes first.
        Index("ix_outbox_messages_key", "channel", "key", "id"),
        Index("ix_outbox_messages_org", "org_id", "channel", "status"),
    )

    # A ULID: sortable by creation, so "earlier" is "smaller id" within a key.
    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # Messages of one key are delivered in the order they were written (e.g. one learner).
    key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending -> sending -> (deleted) | pending (retry) | failed (parked with the answer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deliver_after: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)


class OutboxStats(Base):
    """Running totals per organisation and channel (delivered rows are deleted, so counted)."""

    __tablename__ = "outbox_stats"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    last_delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(default=None)
