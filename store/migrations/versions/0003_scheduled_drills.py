"""scheduled drills: APScheduler's job table

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 16:00:00

``tidegate drill schedule`` keeps its jobs in APScheduler's ``SQLAlchemyJobStore``. The store
would create its table itself; creating it here keeps the schema in one place (Alembic). The
columns and the index are exactly APScheduler 3.11's, so its own ``create(checkfirst=True)``
finds the table and does nothing.
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
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
