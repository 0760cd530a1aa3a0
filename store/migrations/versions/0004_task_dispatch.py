"""tasks: dispatch number and tracking input

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:10:00

A plan task can be dispatched more than once in one response (stood down, then needed again),
each dispatch a task of its own (``plans.lifecycle.task_key``); ``dispatch`` numbers them.
``tracking`` holds the task workflow's input as the data converter encodes it, so whichever
comes first, the response starting the tracking or an agency's prompt acknowledgement, starts
the same workflow with the same input (``workflows.tracking``). Rows written before this
revision have no tracking input; their workflows were started by the response.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispatch", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("tracking", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("tracking")
        batch_op.drop_column("dispatch")
