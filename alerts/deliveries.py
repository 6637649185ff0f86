"""Delivering one notification (an event to one channel) and keeping its log (SPEC §15).

Statuses: `pending` until it succeeds or gives up; `delivered` on success (a 2xx, an
accepted e-mail or WhatsApp message; in console mode, logged); `failed` when refused for
good (no retry); `dead` when the job's retries ran out (its job is in the dead letters,
and replaying it brings the delivery back to `pending`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from alerts.email_sender import EmailSender
from alerts.events import OPS_CHANNEL, event_json
from alerts.failures import DeliveryFailed, DeliveryRefused
from alerts.models import AlertChannel, AlertEvent, NotificationDelivery
from alerts.secrets import SecretBox, SecretsUnavailable
from alerts.webhook_sender import WebhookSender
from alerts.whatsapp_sender import WhatsAppSender, reopen_message
from store.timeutil import utcnow

logger = logging.getLogger(__name__)


@dataclass
class Notifiers:
    """Every channel's sender, built once per process (`runtime.notifiers`)."""

    webhook: WebhookSender
    ops_webhook: WebhookSender
    email: EmailSender
    whatsapp: WhatsAppSender
    secrets: SecretBox
    ops_url: str | None
    ops_secret: str | None

    def close(self) -> None:
        self.webhook.close()
        self.ops_webhook.close()


@dataclass(frozen=True)
class _Work:
    kind: str
    event: dict[str, Any]
    restaurant_id: str | None
    target: str | None
    secret: str | None


class UnknownDelivery(Exception):
    """No delivery has this id (a malformed job)."""


def deliver(
    sessions: sessionmaker[Session], notifiers: Notifiers, delivery_id: str, *, final: bool
) -> str:
    """Send delivery `delivery_id` if it is still pending; return what happened.

    Raises:
      UnknownDelivery: There is no such delivery.
      DeliveryRefused: Refused for good (the delivery is `failed`).
      DeliveryFailed: Worth retrying (`pending`), or on the `final` attempt, `dead`.
    """
    with sessions() as session, session.begin():
        work = _load(session, delivery_id)
    if isinstance(work, str):
        return work
    try:
        _send(notifiers, delivery_id, work, final=final)
    except DeliveryRefused as error:
        _record(sessions, delivery_id, "failed", str(error))
        logger.warning("notification %s (%s) refused: %s", delivery_id, work.kind, error)
        raise
    except DeliveryFailed as error:
        _record(sessions, delivery_id, "dead" if final else "pending", str(error))
        logger.info("notification %s (%s) failed: %s", delivery_id, work.kind, error)
        raise
    _record(sessions, delivery_id, "delivered", None)
    logger.info("notification %s delivered (%s, %s)", delivery_id, work.kind, work.event["type"])
    return "delivered"


def _load(session: Session, delivery_id: str) -> _Work | str:
    delivery = session.get(NotificationDelivery, delivery_id)
    if delivery is None:
        raise UnknownDelivery(f"no notification delivery {delivery_id!r}")
    if delivery.status in ("delivered", "failed"):
        return f"already {delivery.status}"
    event = session.get(AlertEvent, delivery.event_id)
    assert event is not None
    if delivery.channel_type == OPS_CHANNEL:
        return _Work(OPS_CHANNEL, event_json(event), None, None, None)
    channel = session.get(AlertChannel, delivery.channel_id) if delivery.channel_id else None
    if channel is None:
        delivery.status, delivery.last_error = "failed", "the channel was deleted"
        delivery.updated_at = utcnow()
        return "channel deleted"
    return _Work(
        channel.type, event_json(event), channel.restaurant_id, channel.target, channel.secret
    )


def _send(notifiers: Notifiers, delivery_id: str, work: _Work, *, final: bool) -> None:
    if work.kind == OPS_CHANNEL:
        if not notifiers.ops_url or not notifiers.ops_secret:
            raise DeliveryRefused("OPS_WEBHOOK_URL is not set")
        notifiers.ops_webhook.post(notifiers.ops_url, notifiers.ops_secret, work.event)
    elif work.kind == "webhook":
        assert work.target is not None
        assert work.secret is not None
        try:
            secret = notifiers.secrets.decrypt(work.secret)
        except SecretsUnavailable as error:
            raise DeliveryFailed(str(error)) from None
        notifiers.webhook.post(work.target, secret, work.event)
    elif work.kind == "email":
        assert work.target is not None
        notifiers.email.send(work.target, work.event)
    elif work.kind == "whatsapp":
        assert work.target is not None
        assert work.restaurant_id is not None
        notifiers.whatsapp.send(
            delivery_id, work.restaurant_id, work.target, work.event, final=final
        )
    else:
        raise DeliveryRefused(f"unknown channel type {work.kind!r}")


def _record(
    sessions: sessionmaker[Session], delivery_id: str, status: str, error: str | None
) -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "status": status,
        "attempts": NotificationDelivery.attempts + 1,
        "last_error": error[:2000] if error else None,
        "updated_at": now,
    }
    if status == "delivered":
        values["delivered_at"] = now
    with sessions() as session, session.begin():
        session.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == delivery_id)
            .values(**values)
        )


def reopen(sessions: sessionmaker[Session], delivery_id: str) -> bool:
    """Bring a `dead` or `failed` delivery back to `pending` (its job was replayed)."""
    with sessions() as session, session.begin():
        delivery = session.get(NotificationDelivery, delivery_id)
        if delivery is None or delivery.status not in ("dead", "failed"):
            return False
        delivery.status = "pending"
        delivery.updated_at = utcnow()
        if delivery.message_id is not None:
            reopen_message(session, delivery.message_id)
    logger.info("notification %s reopened for a replayed delivery", delivery_id)
    return True
