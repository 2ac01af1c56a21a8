"""how many questions a completed attempt answered (only a whole attempt earns completion)

Revision ID: 0110
Revises: 0185
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0110"
down_revision = "0185"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("questions_answered", sa.Integer(), nullable=True))
    # Attempts completed before this count what they answered; history is not re-scored.
    op.execute(
        "UPDATE attempts SET questions_answered = "
        "(SELECT count(*) FROM answers WHERE answers.attempt_id = attempts.id) "
        "WHERE completed_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("attempts", "questions_answered")
