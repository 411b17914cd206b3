"""Credentials entered in the console or API: their secrets, sealed (credentials.sealed:
field → Fernet token; see netgauge.credentials.vault).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("sealed")
