"""a user's first working day, for onboarding weeks

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("started_on", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "started_on")
