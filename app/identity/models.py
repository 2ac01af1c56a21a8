"""Identity: one-time set-password links, single sign-on settings and sign-ins in flight."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
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


class OidcSettings(Base):
    """An organisation's OpenID Connect provider: who may sign in, and how people are matched."""

    __tablename__ = "oidc_settings"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    # Fernet-encrypted (app.encryption); only the dashboard's web flow needs it.
    client_secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    username_claim: Mapped[str] = mapped_column(String(100), default="preferred_username")
    create_users: Mapped[bool] = mapped_column(Boolean, default=False)
    default_department_id: Mapped[str | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), default=None
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OidcLoginState(Base):
    """One web sign-in on its way through the identity provider: what the callback must check
    (state, nonce), the PKCE verifier and where to send the person afterwards."""

    __tablename__ = "oidc_login_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class SignInCode(Base):
    """A short-lived, single-use code that ends the web sign-in: the page it was sent to
    trades it for a token pair (`POST /auth/oidc/token`). Only its SHA-256 is stored."""

    __tablename__ = "oidc_sign_in_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class ScimToken(Base):
    """A bearer token an HR system provisions one organisation with; only its SHA-256 is kept."""

    __tablename__ = "scim_tokens"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
