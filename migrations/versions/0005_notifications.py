"""notifications: devices, opt-outs, outbox

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23 12:10:57.573623
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db


revision = '0005'
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Reviewed by hand after autogenerate.
    op.create_table('devices',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('user_id', sa.String(length=26), nullable=False),
    sa.Column('installation_id', sa.String(length=128), nullable=False),
    sa.Column('token', sa.String(length=1024), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('app_version', sa.String(length=64), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_devices_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_devices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('token', name=op.f('uq_devices_token')),
    sa.UniqueConstraint('user_id', 'installation_id', name=op.f('uq_devices_user_id_installation_id'))
    )
    op.create_index('ix_devices_last_seen_at', 'devices', ['last_seen_at'], unique=False)
    op.create_table('notification_opt_outs',
    sa.Column('user_id', sa.String(length=26), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_opt_outs_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'type', name=op.f('pk_notification_opt_outs'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('user_id', sa.String(length=26), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('visible_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deliver_after', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('skip_reason', sa.String(length=40), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('claimed_until', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('push_day', sa.String(length=10), nullable=True),
    sa.Column('delivered_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('devices_sent', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('read_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_notifications_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('user_id', 'dedupe_key', name=op.f('uq_notifications_user_id_dedupe_key'))
    )
    op.create_index('ix_notifications_claim_token', 'notifications', ['claim_token'], unique=False)
    op.create_index('ix_notifications_status_deliver_after', 'notifications', ['status', 'deliver_after'], unique=False)
    op.create_index('ix_notifications_user_id_id', 'notifications', ['user_id', 'id'], unique=False)
    # ### end Alembic commands ###


def downgrade() -> None:
    # Reviewed by hand after autogenerate.
    op.drop_index('ix_notifications_user_id_id', table_name='notifications')
    op.drop_index('ix_notifications_status_deliver_after', table_name='notifications')
    op.drop_index('ix_notifications_claim_token', table_name='notifications')
    op.drop_table('notifications')
    op.drop_table('notification_opt_outs')
    op.drop_index('ix_devices_last_seen_at', table_name='devices')
    op.drop_table('devices')
    # ### end Alembic commands ###
