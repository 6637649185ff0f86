"""The data model (SPEC §3): tenants, conversations, messages, usage counters, credentials, jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.timeutil import utcnow

# Stable constraint names, so migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Outbound messages that failed for good: the predicate of the partial index
# `ix_messages_failed`, written as literal SQL so that a query repeating it word for word
# (`bot.failed_messages`) is planned on that index even as a prepared statement.
FAILED_OUTBOUND = "direction = 'outbound' AND status IN ('failed', 'undelivered')"

# An autoincrementing 64-bit key on PostgreSQL; SQLite only autoincrements INTEGER keys.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class Restaurant(Base):
    __tablename__ = "restaurants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    whatsapp_number: Mapped[str] = mapped_column(String(20), unique=True)
    merchant_id: Mapped[str] = mapped_column(String(100), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    bot: Mapped[RestaurantBot | None] = relationship(back_populates="restaurant", lazy="joined")


class RestaurantBot(Base):
    __tablename__ = "restaurant_bots"
    __table_args__ = (
        CheckConstraint(
            "max_messages_per_day >= 0 AND max_messages_per_min >= 0"
            " AND max_conversations_per_month >= 0",
            name="limits_not_negative",
        ),
    )

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    max_messages_per_day: Mapped[int] = mapped_column(Integer)
    max_messages_per_min: Mapped[int] = mapped_column(Integer)
    max_conversations_per_month: Mapped[int] = mapped_column(Integer)
    welcome_content_sid: Mapped[str | None] = mapped_column(String(64))
    # Template name -> Content SID, warmed in the cache by the bootstrap job.
    template_sids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    restaurant: Mapped[Restaurant] = relationship(back_populates="bot")


class Customer(Base):
    """A WhatsApp user as one restaurant knows them; `address` is `From` without `whatsapp:`."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("restaurant_id", "address"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(128))
    profile_name: Mapped[str | None] = mapped_column(String(256))
    opted_out_at: Mapped[dt.datetime | None]
    # The open 24-hour session and when its window started moving (last accepted inbound).
    current_conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    last_accepted_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """WhatsApp's 24-hour session between a customer and a restaurant."""

    __tablename__ = "conversations"
    __table_args__ = (Index(None, "restaurant_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Conversation-flow state: the last numbered list shown and the chosen branch.
    last_list: Mapped[str | None] = mapped_column(String(32))
    last_list_ref: Mapped[str | None] = mapped_column(String(128))
    branch_id: Mapped[str | None] = mapped_column(String(128))
    # Inbound messages whose reply waits for a worker (catalog not cached yet). While any
    # wait, later messages wait too, so replies go out in the order messages came in.
    pending_replies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Message(Base):
    """One WhatsApp message, inbound or outbound; outbound rows are the outbox."""

    __tablename__ = "messages"
    __table_args__ = (
        Index(None, "restaurant_id", "created_at"),
        Index(None, "conversation_id", "id"),
        Index("ix_messages_outbox", "direction", "status", "next_attempt_at"),
        # For the retention cleanup, which clears bodies by age.
        Index(None, "created_at"),
        # An owner's failed messages by period (`bot.failed_messages`): only failed rows.
        Index(
            "ix_messages_failed",
            "restaurant_id",
            "created_at",
            postgresql_where=text(FAILED_OUTBOUND),
            sqlite_where=text(FAILED_OUTBOUND),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Twilio's MessageSid: set on inbound rows at once, on outbound rows once Twilio accepts.
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    # On an inbound message whose reply a worker composes: what to reply ("menu", …).
    reply_intent: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str | None] = mapped_column(Text)
    content_sid: Mapped[str | None] = mapped_column(String(64))
    content_variables: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(Text)
    # Outbox bookkeeping: attempts made, timeouts seen, when the next attempt is due.
    send_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    send_timeouts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[dt.datetime | None]


class MonthlyUsage(Base):
    """Counters per restaurant and calendar month in the restaurant's zone."""

    __tablename__ = "monthly_usage"
    __table_args__ = (UniqueConstraint("restaurant_id", "year", "month"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    conversation_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_conversation_at: Mapped[dt.datetime | None]
    # First and latest stored message of the month, either direction (activity bounds).
    first_message_at: Mapped[dt.datetime | None]
    last_message_at: Mapped[dt.datetime | None]


class DailyUsage(Base):
    """Accepted inbound messages (and conversations opened) per restaurant and calendar day
    in the restaurant's zone."""

    __tablename__ = "daily_usage"
    __table_args__ = (UniqueConstraint("restaurant_id", "date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Conversations opened that day: the pace of SPEC §15 reads 7 of these, never messages.
    conversation_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class _Credential:
    """Columns shared by personal access tokens and admin API keys: only a hash is kept."""

    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    def is_usable(self, now: dt.datetime) -> bool:
        """Return True when the credential is neither revoked nor expired at `now`."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class PersonalAccessToken(_Credential, Base):
    __tablename__ = "personal_access_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), index=True
    )


class ApiKey(_Credential, Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # "admin" (reads and acts) or "viewer" (reads only: `api-keys create --read-only`).
    role: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")


class Job(Base):
    """A tracked background job; its id is the Dramatiq message id."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index(None, "status", "created_at"),
        Index(None, "restaurant_id", "created_at"),
        Index(None, "actor", "created_at"),
        # The newest jobs first without a filter (dashboard, `GET /api/admin/jobs`), and
        # the jobs finished lately (the hourly outcome rollup of `operations.job_outcomes`).
        Index(None, "created_at"),
        Index(None, "finished_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(100))
    restaurant_id: Mapped[str | None] = mapped_column(String(64))
    # queued | running | succeeded | partial | failed | dead
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress_step: Mapped[str | None] = mapped_column(String(100))
    # The keyword arguments the job was sent with, so a deferred enqueue can be replayed.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set once the message is in the broker; NULL while a Redis outage defers the enqueue.
    enqueued_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The worker running the current attempt (Dramatiq's Redis broker id, whose heartbeat
    # tells whether it is alive), so recovery can correct rows a killed worker left running.
    worker_id: Mapped[str | None] = mapped_column(String(64))


# Partial index for the relay: jobs written but never handed to the broker.
Index(
    "ix_jobs_unenqueued",
    Job.created_at,
    postgresql_where=Job.enqueued_at.is_(None),
    sqlite_where=Job.enqueued_at.is_(None),
)
