"""messages: a partial index of failed outbound messages, for the owner's failures page

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 16:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The same words as store.models.FAILED_OUTBOUND (a migration does not import models).
FAILED_OUTBOUND = "direction = 'outbound' AND status IN ('failed', 'undelivered')"


def upgrade() -> None:
    op.create_index(
        "ix_messages_failed",
        "messages",
        ["restaurant_id", "created_at"],
        postgresql_where=sa.text(FAILED_OUTBOUND),
        sqlite_where=sa.text(FAILED_OUTBOUND),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_failed", table_name="messages")
