"""the worker running a job; messages by age (retention)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker_id", sa.String(length=64), nullable=True))
    op.create_index("ix_messages_created_at", "messages", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_messages_created_at", table_name="messages")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("worker_id")
