"""Identity: one-time set-password links (more to come: SSO settings, SCIM tokens)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow

LINK_PURPOSES = ("reset", "invitation")


class PasswordLink(Base):
    """A one-time link to set a password (reset or invitation); only its SHA-256 is stored."""

    __tablename__ = "password_links"
    __table_args__ = (Index("ix_password_links_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    # Set when the link was used, or when a newer link for the same person replaced it.
    used_at: Mapped[datetime | None] = mapped_column(default=None)
