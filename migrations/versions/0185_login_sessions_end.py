"""login_sessions.ends_at: a login started by single sign-on stops refreshing then

Revision ID: 0185
Revises: 0140
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0185"
down_revision = "0140"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "login_sessions",
        sa.Column("ends_at", app.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("login_sessions", "ends_at")
