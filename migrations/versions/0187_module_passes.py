"""module_passes: when each person first passed each module, under their department now

Revision ID: 0187
Revises: 0186
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0187"
down_revision = "0186"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "module_passes",
        sa.Column(
            "user_id",
            sa.String(26),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "module_id",
            sa.String(26),
            sa.ForeignKey("modules.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "org_id",
            sa.String(26),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("department_id", sa.String(26), nullable=True),
        sa.Column("first_passed_at", app.db.UTCDateTime(timezone=True), nullable=False),
    )
    # What the attempts say so far (`app/insights/passes.py` keeps it from here on; `flask
    # insights rebuild` does the same at any time).
    op.execute(
        """
        INSERT INTO module_passes (user_id, module_id, org_id, department_id, first_passed_at)
        SELECT a.user_id, a.module_id, a.org_id, u.department_id, min(a.completed_at)
        FROM attempts a JOIN users u ON u.id = a.user_id
        WHERE a.passed AND a.completed_at IS NOT NULL
        GROUP BY a.user_id, a.module_id, a.org_id, u.department_id
        """
    )
    op.create_index(
        "ix_module_passes_department",
        "module_passes",
        ["department_id", "module_id"],
        unique=False,
        postgresql_include=["user_id", "first_passed_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_module_passes_department", table_name="module_passes")
    op.drop_table("module_passes")
