"""attempts by user and completion time, for the managers' insights

Revision ID: 0140
Revises: 0120
"""

from __future__ import annotations

from alembic import op

revision = "0140"
down_revision = "0120"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A department's people's attempts completed in a week (summary, members, trend).
    op.create_index(
        "ix_attempts_user_completed", "attempts", ["user_id", "completed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_attempts_user_completed", table_name="attempts")
