"""An organisation's LRS connection, its credential signing keys and revoked credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class XapiIntegration(Base):
    """Where an organisation's xAPI statements go; the password is Fernet-encrypted."""

    __tablename__ = "xapi_integrations"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint: Mapped[str] = mapped_column(String(500))
    username: Mapped[str] = mapped_column(String(200))
    password_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKey(Base):
    """One of an organisation's credential signing keys. The newest unretired key signs;
    retired keys stay published in the JWKS so what they signed still verifies."""

    __tablename__ = "signing_keys"
    __table_args__ = (Index("ix_signing_keys_org_id", "org_id", "created_at"),)

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    algorithm: Mapped[str] = mapped_column(String(8))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class RevokedCredential(Base):
    """A badge credential an admin revoked (a wrongly granted badge); listed publicly."""

    __tablename__ = "revoked_credentials"

    earned_badge_id: Mapped[str] = mapped_column(
        ForeignKey("earned_badges.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)
