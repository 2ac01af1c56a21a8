"""the shared outbox of outbound deliveries (xAPI statements, digests) and its counters

Revision ID: 0170
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision = "0170"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("org_id", sa.String(26), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("deliver_after", UTCDateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_outbox_messages_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
    )
    op.create_index(
        "ix_outbox_messages_claim", "outbox_messages", ["channel", "status", "deliver_after"]
    )
    op.create_index("ix_outbox_messages_key", "outbox_messages", ["channel", "key", "id"])
    op.create_index("ix_outbox_messages_org", "outbox_messages", ["org_id", "channel", "status"])
    op.create_table(
        "outbox_stats",
        sa.Column("org_id", sa.String(26), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("last_delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("last_error_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_outbox_stats_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "channel", name="pk_outbox_stats"),
    )


def downgrade() -> None:
    op.drop_table("outbox_stats")
    op.drop_index("ix_outbox_messages_org", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_key", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_claim", table_name="outbox_messages")
    op.drop_table("outbox_messages")
