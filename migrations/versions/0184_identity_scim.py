"""identity: SCIM bearer tokens per organisation, users.external_id

Revision ID: 0184
Revises: 0183
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0184"
down_revision = "0183"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"],
            name=op.f("fk_scim_tokens_org_id_organizations"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_scim_tokens_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_scim_tokens_token_hash")),
    )
    op.create_index("ix_scim_tokens_org_id", "scim_tokens", ["org_id"])
    op.add_column("users", sa.Column("external_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "external_id")
    op.drop_index("ix_scim_tokens_org_id", table_name="scim_tokens")
    op.drop_table("scim_tokens")
