"""identity: users.erased_at (an erased person's anonymous placeholder)

Revision ID: 0181
Revises: 0180
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0181"
down_revision = "0180"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("erased_at", app.db.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("users", "erased_at")
