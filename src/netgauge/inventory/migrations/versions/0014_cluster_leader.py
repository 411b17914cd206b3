"""Where the leader of several serve peers answers (cluster_leader: one row), so that a
standby forwards requests to it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_leader",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.String(512), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cluster_leader")
