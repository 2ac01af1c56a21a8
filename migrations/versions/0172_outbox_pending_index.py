"""outbox: the claim walks pending messages by id (channel, status, id)

Revision ID: 0172
Revises: 0171
"""

from __future__ import annotations

from alembic import op

revision = "0172"
down_revision = "0171"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Ordered by deliver_after the claim read and sorted every pending row of the channel on
    # each batch; by id it reads a batch's worth of the index.
    op.drop_index("ix_outbox_messages_claim", table_name="outbox_messages")
    op.create_index("ix_outbox_messages_pending", "outbox_messages", ["channel", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_pending", table_name="outbox_messages")
    op.create_index(
        "ix_outbox_messages_claim", "outbox_messages", ["channel", "status", "deliver_after"]
    )
