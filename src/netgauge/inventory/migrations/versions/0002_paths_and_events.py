"""Paths seen per (job, target) and target events (path changes).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:16:13.460899
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target_name", sa.String(length=128), nullable=False),
        sa.Column("job_name", sa.String(length=128), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_target_at", ["target_name", "at"], unique=False)

    op.create_table(
        "target_paths",
        sa.Column("job_name", sa.String(length=128), nullable=False),
        sa.Column("target_name", sa.String(length=128), nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_name", "target_name"),
    )


def downgrade() -> None:

    op.drop_table("target_paths")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_target_at")

    op.drop_table("events")
