"""devices: a push token is unique within an organisation, not across all of them

Revision ID: 0130
Revises: 0111
"""

from __future__ import annotations

from alembic import op

revision = "0130"
down_revision = "0111"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite changes a table's constraints by copying it.
    with op.batch_alter_table("devices") as batch:
        batch.drop_constraint("uq_devices_token", type_="unique")
        batch.create_unique_constraint("uq_devices_org_id_token", ["org_id", "token"])


def downgrade() -> None:
    # Keeps the newest row of a token that more than one organisation holds.
    op.execute(
        "DELETE FROM devices WHERE EXISTS (SELECT 1 FROM devices AS newer"
        " WHERE newer.token = devices.token AND newer.id > devices.id)"
    )
    with op.batch_alter_table("devices") as batch:
        batch.drop_constraint("uq_devices_org_id_token", type_="unique")
        batch.create_unique_constraint("uq_devices_token", ["token"])
