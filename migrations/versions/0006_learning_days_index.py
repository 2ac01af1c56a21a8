"""index learning days by time, for the streak-at-risk job

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_learning_days_first_at", "learning_days", ["first_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_learning_days_first_at", table_name="learning_days")
