"""Remote collectors (collectors: site, token hash, heartbeat, result cursor) and
multi-vantage jobs (jobs.vantage: the sites that each run it; jobs.quorum).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collectors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.String(32), nullable=True),
        sa.Column("spool_pending", sa.BigInteger(), nullable=True),
        sa.Column("spool_bytes", sa.BigInteger(), nullable=True),
        sa.Column("clock_offset_ms", sa.Double(), nullable=True),
        sa.Column("targets", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_index("ix_collectors_site", "collectors", ["site"])
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vantage", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("quorum", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("quorum")
        batch_op.drop_column("vantage")
    op.drop_index("ix_collectors_site", "collectors")
    op.drop_table("collectors")
