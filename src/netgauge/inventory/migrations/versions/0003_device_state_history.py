"""Device state transitions (online/offline/degraded/flapping) with their reasons.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_state_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("previous_state", sa.String(length=16), nullable=True),
        sa.Column("new_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_state_history", schema=None) as batch_op:
        batch_op.create_index("ix_device_state_history_device_at", ["device", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device_state_history", schema=None) as batch_op:
        batch_op.drop_index("ix_device_state_history_device_at")
    op.drop_table("device_state_history")
