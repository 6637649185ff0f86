"""Tables of the insights pipeline: events, batches, hourly aggregates, per-conversation state.

Aggregates are kept per restaurant and UTC hour (SPEC §12); local days and hours are
computed when reading (`store.periods`). Events carry no foreign keys: they are an
append-only log written on the webhook's hot path, and an `INSERT` that had to check
three parent rows would cost every message for nothing the log needs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, BigId

# Batch states (SPEC §12).
OPEN, SEALED, ANALYZED = "open", "sealed", "analyzed"
BATCH_STATES = (OPEN, SEALED, ANALYZED)


class ConversationEvent(Base):
    """One step of a conversation (`kind`), waiting in its restaurant's open batch while
    `batch_id` is NULL; sealing sets `batch_id`."""

    __tablename__ = "conversation_events"
    __table_args__ = (
        # The open batches: what is waiting, per restaurant, and since when (seal checks).
        Index(
            "ix_conversation_events_waiting",
            "restaurant_id",
            "occurred_at",
            postgresql_where=text("batch_id IS NULL"),
            sqlite_where=text("batch_id IS NULL"),
        ),
        # A sealed batch's events (folding, retention); waiting events are not in it.
        Index(
            "ix_conversation_events_batch_id",
            "batch_id",
            postgresql_where=text("batch_id IS NOT NULL"),
            sqlite_where=text("batch_id IS NOT NULL"),
        ),
        # Unrecognised texts expire with message bodies (only those rows are in it).
        Index(
            "ix_conversation_events_texts",
            "occurred_at",
            postgresql_where=text("kind = 'unrecognised_text'"),
            sqlite_where=text("kind = 'unrecognised_text'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restaurant_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    occurred_at: Mapped[dt.datetime]
    batch_id: Mapped[int | None] = mapped_column(BigInteger)


class InsightBatch(Base):
    """A restaurant's events on their way into the aggregates: open → sealed → analyzed."""

    __tablename__ = "insight_batches"
    __table_args__ = (
        # One open batch per restaurant, even when two sealers race to open it.
        Index(
            "ux_insight_batches_open",
            "restaurant_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index(None, "restaurant_id", "id"),
        Index(None, "status", "id"),
        Index(None, "last_event_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restaurant_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    # Events it holds (set when sealed; an open batch's are counted when read).
    events: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime]
    sealed_at: Mapped[dt.datetime | None]
    analyzed_at: Mapped[dt.datetime | None]
    first_event_at: Mapped[dt.datetime | None]
    last_event_at: Mapped[dt.datetime | None]
    # The analysis job that folds it (the latest one sent while it was not yet analyzed).
    job_id: Mapped[str | None] = mapped_column(String(64))


class _Measures:
    """Event counts, one column per measure (hourly and daily rows alike)."""

    conversations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    new_customers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    returning_customers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    messages_in: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    welcomes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    menu_shown: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    category_opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    branches_shown: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    branch_choices: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    help_shown: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unknown_options: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unrecognised_texts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    opt_outs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    opt_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    throttled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    delivery_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    replies_deferred: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Conversations that reached a step for the first time in this hour (the funnel).
    reached_welcome: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reached_menu: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reached_category: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reached_branch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class HourlyInsight(_Measures, Base):
    """Event counts of one restaurant in one UTC hour."""

    __tablename__ = "insight_hourly"

    restaurant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)


class DailyInsight(_Measures, Base):
    """The same counts per UTC day (the sum of its hours): a year is 366 rows to read, not
    8,784. A period reads its whole UTC days here and its edge hours from `HourlyInsight`."""

    __tablename__ = "insight_daily"

    restaurant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)


class DailyStarts(Base):
    """Conversations started in each UTC hour (`h00` … `h23`) of one UTC day: the heatmap
    of a year is 366 rows, turned into local weekdays and hours when read."""

    __tablename__ = "insight_daily_starts"

    restaurant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    h00: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h01: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h02: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h03: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h04: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h05: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h06: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h07: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h08: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h09: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h10: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h11: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h12: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h13: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h14: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h15: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h16: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h17: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h18: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h19: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h20: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h21: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h22: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    h23: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


HOURS_OF_DAY = tuple(f"h{hour:02d}" for hour in range(24))


# The measures, in column order.
MEASURES: tuple[str, ...] = tuple(
    column.key
    for column in HourlyInsight.__table__.columns
    if column.key not in ("restaurant_id", "hour")
)


class HourlyInsightKey(Base):
    """Counts per key in one UTC hour: category opens and branch choices by id, delivery
    failures by Twilio error code (`dimension` says which)."""

    __tablename__ = "insight_hourly_keys"

    restaurant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DailyInsightKey(Base):
    """The keyed counts per UTC day (the sum of its hours)."""

    __tablename__ = "insight_daily_keys"

    restaurant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class HourlyText(Base):
    """Unrecognised texts (normalised) per UTC hour; they expire with message bodies."""

    __tablename__ = "insight_hourly_texts"
    __table_args__ = (Index(None, "hour"),)

    restaurant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ConversationFunnel(Base):
    """When a conversation first reached each funnel step, as folded so far: what lets a
    conversation count once per step however many batches its events arrive in."""

    __tablename__ = "insight_funnels"
    __table_args__ = (Index(None, "updated_at"),)

    conversation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    restaurant_id: Mapped[str] = mapped_column(String(64))
    welcome_at: Mapped[dt.datetime | None]
    menu_at: Mapped[dt.datetime | None]
    category_at: Mapped[dt.datetime | None]
    branch_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime]


class RestaurantInsight(Base):
    """Per restaurant: how fresh its aggregates are, and the stored narrative summary."""

    __tablename__ = "insight_restaurants"

    restaurant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The newest analyzed event's time (`freshAsOf`).
    fresh_as_of: Mapped[dt.datetime | None]
    summary: Mapped[str | None] = mapped_column(Text)
    # The local days the summary describes (the default period when it was written).
    summary_first: Mapped[dt.date | None] = mapped_column(Date)
    summary_last: Mapped[dt.date | None] = mapped_column(Date)
    summary_at: Mapped[dt.datetime | None]
