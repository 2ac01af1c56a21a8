"""attempts passed by module, and attempts by completion time, for a region's insights

Revision ID: 0186
Revises: 0172
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0186"
down_revision = "0172"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Who passed this week's modules (a summary's path completion and compliance): one range
    # per module instead of ten thousand probes of each person's attempts, read from the index
    # alone on PostgreSQL.
    op.create_index(
        "ix_attempts_passed_module",
        "attempts",
        ["module_id", "user_id"],
        unique=False,
        postgresql_include=["completed_at"],
        postgresql_where=sa.text("passed"),
        sqlite_where=sa.text("passed"),
    )
    # The attempts completed in a week (a summary's active people and score), likewise.
    op.create_index(
        "ix_attempts_completed",
        "attempts",
        ["completed_at"],
        unique=False,
        postgresql_include=["user_id", "score_correct", "questions_total"],
    )


def downgrade() -> None:
    op.drop_index("ix_attempts_completed", table_name="attempts")
    op.drop_index("ix_attempts_passed_module", table_name="attempts")
