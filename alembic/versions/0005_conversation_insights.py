"""conversation insights: events, batches, hourly aggregates, per-conversation funnel state

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:10:34.144114
"""

from __future__ import annotations

import sqlalchemy as sa

import store.models
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("conversation_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("occurred_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_events")),
    )
    with op.batch_alter_table("conversation_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_events_batch_id",
            ["batch_id"],
            unique=False,
            postgresql_where=sa.text("batch_id IS NOT NULL"),
            sqlite_where=sa.text("batch_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_conversation_events_texts",
            ["occurred_at"],
            unique=False,
            postgresql_where=sa.text("kind = 'unrecognised_text'"),
            sqlite_where=sa.text("kind = 'unrecognised_text'"),
        )
        batch_op.create_index(
            "ix_conversation_events_waiting",
            ["restaurant_id", "occurred_at"],
            unique=False,
            postgresql_where=sa.text("batch_id IS NULL"),
            sqlite_where=sa.text("batch_id IS NULL"),
        )

    op.create_table(
        "insight_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("events", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sealed_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("analyzed_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("first_event_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_batches")),
    )
    with op.batch_alter_table("insight_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insight_batches_last_event_at"), ["last_event_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_insight_batches_restaurant_id_id"), ["restaurant_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_insight_batches_status_id"), ["status", "id"], unique=False
        )
        batch_op.create_index(
            "ux_insight_batches_open",
            ["restaurant_id"],
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "insight_funnels",
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("welcome_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("menu_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("category_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("branch_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_insight_funnels")),
    )
    with op.batch_alter_table("insight_funnels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insight_funnels_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "insight_hourly",
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("hour", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("conversations", sa.Integer(), server_default="0", nullable=False),
        sa.Column("new_customers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("returning_customers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("messages_in", sa.Integer(), server_default="0", nullable=False),
        sa.Column("welcomes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("menu_shown", sa.Integer(), server_default="0", nullable=False),
        sa.Column("category_opens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("branches_shown", sa.Integer(), server_default="0", nullable=False),
        sa.Column("branch_choices", sa.Integer(), server_default="0", nullable=False),
        sa.Column("help_shown", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unknown_options", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unrecognised_texts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opt_outs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opt_ins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("throttled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivery_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("replies_deferred", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reached_welcome", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reached_menu", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reached_category", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reached_branch", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("restaurant_id", "hour", name=op.f("pk_insight_hourly")),
    )
    op.create_table(
        "insight_hourly_keys",
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("hour", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "restaurant_id", "hour", "dimension", "key", name=op.f("pk_insight_hourly_keys")
        ),
    )
    op.create_table(
        "insight_daily",
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("conversations", sa.Integer(), server_default="0", nullable=False),
        sa.Column("new_customers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("returning_customers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("messages_in", sa.Integer(), server_default="0", nullable=False),
        sa.Column("welcomes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("menu_shown", sa.Integer(), server_default="0", nullable=False),
        sa.Column("category_opens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("branches_shown", sa.Integer(), server_default="0", nullable=False),
        sa.Column("branch_choices", sa.Integer(), server_default="0", nullable=False),
        sa.Column("help_shown", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unknown_options", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unrecognised_texts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opt_outs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opt_ins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("throttled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivery_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("replies_deferred", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reached_welcome", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reached_menu", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reached_category", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reached_branch", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("restaurant_id", "day", name=op.f("pk_insight_daily")),
    )
    op.create_table(
        "insight_daily_keys",
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "restaurant_id", "day", "dimension", "key", name=op.f("pk_insight_daily_keys")
        ),
    )
    op.create_table(
        "insight_daily_starts",
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("h00", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h01", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h02", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h03", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h04", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h05", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h06", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h07", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h08", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h09", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h10", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h11", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h12", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h13", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h14", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h15", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h16", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h17", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h18", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h19", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h20", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h21", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h22", sa.Integer(), server_default="0", nullable=False),
        sa.Column("h23", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("restaurant_id", "day", name=op.f("pk_insight_daily_starts")),
    )
    op.create_table(
        "insight_hourly_texts",
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("hour", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("text", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "restaurant_id", "hour", "text", name=op.f("pk_insight_hourly_texts")
        ),
    )
    with op.batch_alter_table("insight_hourly_texts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_insight_hourly_texts_hour"), ["hour"], unique=False)

    op.create_table(
        "insight_restaurants",
        sa.Column("restaurant_id", sa.String(length=64), nullable=False),
        sa.Column("fresh_as_of", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("summary_first", sa.Date(), nullable=True),
        sa.Column("summary_last", sa.Date(), nullable=True),
        sa.Column("summary_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("restaurant_id", name=op.f("pk_insight_restaurants")),
    )


def downgrade() -> None:
    op.drop_table("insight_restaurants")
    with op.batch_alter_table("insight_hourly_texts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insight_hourly_texts_hour"))

    op.drop_table("insight_hourly_texts")
    op.drop_table("insight_daily_starts")
    op.drop_table("insight_daily_keys")
    op.drop_table("insight_daily")
    op.drop_table("insight_hourly_keys")
    op.drop_table("insight_hourly")
    with op.batch_alter_table("insight_funnels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insight_funnels_updated_at"))

    op.drop_table("insight_funnels")
    with op.batch_alter_table("insight_batches", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_insight_batches_open",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index(batch_op.f("ix_insight_batches_status_id"))
        batch_op.drop_index(batch_op.f("ix_insight_batches_restaurant_id_id"))
        batch_op.drop_index(batch_op.f("ix_insight_batches_last_event_at"))

    op.drop_table("insight_batches")
    with op.batch_alter_table("conversation_events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_conversation_events_waiting",
            postgresql_where=sa.text("batch_id IS NULL"),
            sqlite_where=sa.text("batch_id IS NULL"),
        )
        batch_op.drop_index("ix_conversation_events_texts")
        batch_op.drop_index(
            "ix_conversation_events_batch_id",
            postgresql_where=sa.text("batch_id IS NOT NULL"),
            sqlite_where=sa.text("batch_id IS NOT NULL"),
        )

    op.drop_table("conversation_events")
