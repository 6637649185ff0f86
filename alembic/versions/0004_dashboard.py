"""dashboard: roles, sessions, audit log, dead-letter index, job outcomes

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-06 12:06:23.558717

API keys get a role (admin, or viewer for read-only keys). New tables: dashboard
sessions, the operators' audit log, the SQL index of the broker's dead letters and the
hourly job outcomes. Two indexes on jobs (created_at, finished_at): on a large PostgreSQL
jobs table, create them beforehand with CREATE INDEX CONCURRENTLY under the same names.
"""

from __future__ import annotations

import sqlalchemy as sa

import store.models
from alembic import op

revision = "0004"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key_prefix", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=True),
        sa.Column("ids", sa.JSON(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entries_at"), ["at"], unique=False)

    op.create_table(
        "dead_letter_index",
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("redis_id", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("restaurant_id", sa.String(length=64), nullable=True),
        sa.Column("error_class", sa.String(length=100), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("dead_lettered_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_dead_letter_index")),
    )
    with op.batch_alter_table("dead_letter_index", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dead_letter_index_actor_dead_lettered_at"),
            ["actor", "dead_lettered_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_dead_letter_index_dead_lettered_at"), ["dead_lettered_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dead_letter_index_error_class_dead_lettered_at"),
            ["error_class", "dead_lettered_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_dead_letter_index_restaurant_id_dead_lettered_at"),
            ["restaurant_id", "dead_lettered_at"],
            unique=False,
        )

    op.create_table(
        "job_outcome_hours",
        sa.Column("hour", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "actor", "outcome", name=op.f("pk_job_outcome_hours")),
    )
    op.create_table(
        "dashboard_sessions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "api_key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("pat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_dashboard_sessions_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pat_id"],
            ["personal_access_tokens.id"],
            name=op.f("fk_dashboard_sessions_pat_id_personal_access_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dashboard_sessions_token_hash")),
    )
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dashboard_sessions_api_key_id"), ["api_key_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dashboard_sessions_last_seen_at"), ["last_seen_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dashboard_sessions_pat_id"), ["pat_id"], unique=False)

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="admin", nullable=False)
        )

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_finished_at"), ["finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_finished_at"))
        batch_op.drop_index(batch_op.f("ix_jobs_created_at"))

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("role")

    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_sessions_pat_id"))
        batch_op.drop_index(batch_op.f("ix_dashboard_sessions_last_seen_at"))
        batch_op.drop_index(batch_op.f("ix_dashboard_sessions_api_key_id"))

    op.drop_table("dashboard_sessions")
    op.drop_table("job_outcome_hours")
    with op.batch_alter_table("dead_letter_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letter_index_restaurant_id_dead_lettered_at"))
        batch_op.drop_index(batch_op.f("ix_dead_letter_index_error_class_dead_lettered_at"))
        batch_op.drop_index(batch_op.f("ix_dead_letter_index_dead_lettered_at"))
        batch_op.drop_index(batch_op.f("ix_dead_letter_index_actor_dead_lettered_at"))

    op.drop_table("dead_letter_index")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_at"))

    op.drop_table("audit_entries")
