"""the audit trail; attempts by user and completion time for the managers' insights

Revision ID: 0140
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0140"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("org_id", sa.String(length=26), nullable=False),
        sa.Column("actor_id", sa.String(length=26), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_audit_events_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_org_id_id", "audit_events", ["org_id", "id"], unique=False)
    op.create_index(
        "ix_attempts_user_completed", "attempts", ["user_id", "completed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_attempts_user_completed", table_name="attempts")
    op.drop_index("ix_audit_events_org_id_id", table_name="audit_events")
    op.drop_table("audit_events")
