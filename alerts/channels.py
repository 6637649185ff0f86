"""A restaurant's notification channels and its delivery log (SPEC §15)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alerts.addresses import check_email, check_number, check_webhook_url
from alerts.models import AlertChannel, AlertEvent, NotificationDelivery
from alerts.rules import InvalidAlertInput
from alerts.secrets import SecretBox, new_signing_secret
from store.timeutil import iso_z

CHANNEL_TYPES = ("webhook", "email", "whatsapp")
MAX_CHANNELS = 20


class TooManyChannels(Exception):
    """The restaurant has `MAX_CHANNELS` channels already (a `409 conflict`)."""


@dataclass(frozen=True)
class NewChannel:
    """A created channel, with the webhook's secret in the clear (shown once)."""

    channel: AlertChannel
    secret: str | None


def channel_json(channel: AlertChannel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "type": channel.type,
        "target": channel.target,
        "createdAt": iso_z(channel.created_at),
    }


def list_channels(session: Session, restaurant_id: str) -> list[AlertChannel]:
    """Return a restaurant's channels, oldest first."""
    return list(
        session.scalars(
            select(AlertChannel)
            .where(AlertChannel.restaurant_id == restaurant_id)
            .order_by(AlertChannel.created_at, AlertChannel.id)
        )
    )


def create_channel(
    session: Session,
    restaurant_id: str,
    payload: Any,
    *,
    secrets: SecretBox,
    allow_private: bool,
    now: dt.datetime,
) -> NewChannel:
    """Add a channel from a `POST /api/alerts/channels` body.

    Raises:
      InvalidAlertInput: An unknown type or a bad target.
      TooManyChannels: The restaurant has `MAX_CHANNELS` already.
      SecretsUnavailable: A webhook while `SECRETS_KEY` is not set.
    """
    if not isinstance(payload, dict):
        raise InvalidAlertInput('expected a JSON object {"type", "target"}')
    kind, target = payload.get("type"), payload.get("target")
    if kind not in CHANNEL_TYPES:
        raise InvalidAlertInput(f"type: expected one of {', '.join(CHANNEL_TYPES)}")
    if kind == "webhook":
        target = check_webhook_url(target, allow_private=allow_private)  # type: ignore[arg-type]
    elif kind == "email":
        target = check_email(target)
    else:
        target = check_number(target)
    count = session.scalar(
        select(func.count())
        .select_from(AlertChannel)
        .where(AlertChannel.restaurant_id == restaurant_id)
    )
    if (count or 0) >= MAX_CHANNELS:
        raise TooManyChannels(f"at most {MAX_CHANNELS} channels per restaurant; delete one first")
    secret = new_signing_secret() if kind == "webhook" else None
    channel = AlertChannel(
        id="ch_" + uuid.uuid4().hex[:24],
        restaurant_id=restaurant_id,
        type=kind,
        target=target,
        secret=secrets.encrypt(secret) if secret else None,
        created_at=now,
    )
    session.add(channel)
    session.flush()
    return NewChannel(channel, secret)


def delete_channel(session: Session, restaurant_id: str, channel_id: str) -> bool:
    """Delete a restaurant's channel; False when it has none with that id."""
    result = session.execute(
        delete(AlertChannel).where(
            AlertChannel.id == channel_id, AlertChannel.restaurant_id == restaurant_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delivery_json(delivery: NotificationDelivery, event_type: str) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "eventId": delivery.event_id,
        "type": event_type,
        "channelId": delivery.channel_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "lastError": delivery.last_error,
        "createdAt": iso_z(delivery.created_at),
        "deliveredAt": iso_z(delivery.delivered_at),
    }


def delivery_page(
    session: Session, restaurant_id: str | None, *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """Return the number of deliveries and one page of them, newest first (all when
    `restaurant_id` is None)."""
    where = [] if restaurant_id is None else [NotificationDelivery.restaurant_id == restaurant_id]
    total = session.scalar(select(func.count()).select_from(NotificationDelivery).where(*where))
    rows = session.execute(
        select(NotificationDelivery, AlertEvent.type)
        .join(AlertEvent, AlertEvent.id == NotificationDelivery.event_id)
        .where(*where)
        .order_by(NotificationDelivery.created_at.desc(), NotificationDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total or 0), [delivery_json(delivery, kind) for delivery, kind in rows]
