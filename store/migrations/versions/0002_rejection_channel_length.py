"""rejections.channel holds kafka:<topic>

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 15:00:00

The Kafka intake records its channel as ``kafka:<topic>`` (``kafka:tidegate.alerts`` is 21
characters, and Kafka allows 249-character topic names); 20 characters made PostgreSQL refuse
every Kafka rejection.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.alter_column(
            "channel",
            existing_type=sa.String(length=20),
            type_=sa.String(length=300),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.alter_column(
            "channel",
            existing_type=sa.String(length=300),
            type_=sa.String(length=20),
            existing_nullable=False,
        )
