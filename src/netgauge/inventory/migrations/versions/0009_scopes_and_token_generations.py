"""credentials.scope (where a credential may be sent) and users.token_generation (access
tokens name it; changing it ends every access token the user holds).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.JSON(), nullable=True))
    # existing users get generation "": their tokens issued before this (which carry none)
    # stop working once, so everybody logs in again after the upgrade
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_generation", sa.String(length=32), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_generation")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("scope")
