"""audit trail: a key for actions that may be seen twice

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00

Issue #12. A warning or an agency answer read from Kafka is read again when the consumer
restarts before committing its offset; its audit entry carries the record's position
(``kafka:<topic>:<partition>:<offset>``) in ``dedup_key``, unique, so the second write adds
nothing. Other entries leave it NULL (NULLs never collide, on SQLite and PostgreSQL alike).
Adding a column is no UPDATE: the append-only triggers of 0005 stay as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_trail", sa.Column("dedup_key", sa.String(length=200), nullable=True))
    op.create_index("ix_audit_trail_dedup_key", "audit_trail", ["dedup_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_audit_trail_dedup_key", table_name="audit_trail")
    op.drop_column("audit_trail", "dedup_key")
