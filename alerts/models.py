"""Alert rules, channels, firings, events and their deliveries (SPEC §15).

Events are an outbox: an `AlertEvent` and one `NotificationDelivery` per channel are
written in the transaction that decided them (the webhook's, an import's, the
scheduler's), and a tracked job per delivery sends them after commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, BigId
from store.timeutil import utcnow


class AlertSettings(Base):
    """A restaurant's rules; no row means the default rules (all on)."""

    __tablename__ = "alert_settings"

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    # [{"metric", "threshold" (None for pace), "enabled"}], as the API shows them.
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertChannel(Base):
    """Where a restaurant's events go: a webhook URL, an e-mail address or a WhatsApp number."""

    __tablename__ = "alert_channels"
    __table_args__ = (Index(None, "restaurant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))  # webhook | email | whatsapp
    target: Mapped[str] = mapped_column(String(2048))
    # Webhooks only: the signing secret, Fernet-encrypted with SECRETS_KEY.
    secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertFiring(Base):
    """A rule that fired in a period; the unique key makes it fire once across processes."""

    __tablename__ = "alert_firings"
    __table_args__ = (
        UniqueConstraint("restaurant_id", "metric", "threshold", "period"),
        Index(None, "fired_at"),  # the retention cleanup
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(32))
    # Percent; 0 for `pace` (a NULL would never conflict).
    threshold: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD or YYYY-MM
    event_id: Mapped[str] = mapped_column(String(40))
    fired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertEvent(Base):
    """One event as receivers get it: `{"id", "type", "restaurantId", "occurredAt", "data"}`."""

    __tablename__ = "alert_events"
    __table_args__ = (
        Index(None, "restaurant_id", "occurred_at"),
        Index(None, "occurred_at"),  # the retention cleanup
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # None for operator events.
    restaurant_id: Mapped[str | None] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class NotificationDelivery(Base):
    """One event to one channel; its id is the id of the job that delivers it."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index(None, "restaurant_id", "created_at"),
        Index(None, "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(
        ForeignKey("alert_events.id", ondelete="CASCADE"), index=True
    )
    restaurant_id: Mapped[str | None] = mapped_column(String(64))
    # No foreign key: the log outlives a deleted channel (its deliveries then fail).
    channel_id: Mapped[str | None] = mapped_column(String(40))
    channel_type: Mapped[str] = mapped_column(String(16))  # webhook | email | whatsapp | ops
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # WhatsApp: the outbox row carrying it (created once, reused by retries).
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]
