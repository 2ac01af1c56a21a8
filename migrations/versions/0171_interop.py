"""xAPI connections, credential signing keys and revoked credentials

Revision ID: 0171
Revises: 0130
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision = "0171"
down_revision = "0130"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xapi_integrations",
        sa.Column("org_id", sa.String(26), nullable=False),
        sa.Column("endpoint", sa.String(500), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_xapi_integrations_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name="pk_xapi_integrations"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("org_id", sa.String(26), nullable=False),
        sa.Column("algorithm", sa.String(8), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_key_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_signing_keys_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
    )
    op.create_index("ix_signing_keys_org_id", "signing_keys", ["org_id", "created_at"])
    op.create_table(
        "revoked_credentials",
        sa.Column("earned_badge_id", sa.String(26), nullable=False),
        sa.Column("org_id", sa.String(26), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["earned_badge_id"],
            ["earned_badges.id"],
            name="fk_revoked_credentials_earned_badge_id_earned_badges",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_revoked_credentials_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("earned_badge_id", name="pk_revoked_credentials"),
    )


def downgrade() -> None:
    op.drop_table("revoked_credentials")
    op.drop_index("ix_signing_keys_org_id", table_name="signing_keys")
    op.drop_table("signing_keys")
    op.drop_table("xapi_integrations")
