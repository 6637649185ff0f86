"""alerts: indexes for the retention cleanup of events and firings

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06 15:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alert_events_occurred_at", "alert_events", ["occurred_at"])
    op.create_index("ix_alert_firings_fired_at", "alert_firings", ["fired_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_firings_fired_at", table_name="alert_firings")
    op.drop_index("ix_alert_events_occurred_at", table_name="alert_events")
