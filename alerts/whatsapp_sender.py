"""WhatsApp deliveries to the owner's number, through the existing outbox (SPEC §15).

The owner is a customer of the restaurant's own number: when they have written to it in
the last 24 hours the event goes as plain text, otherwise as the `CONTENT_SID_OWNER_ALERT`
template (variables: 1 = restaurant name, 2 = what happened) when one is configured, else
as text, which Twilio refuses outside the window (63016: the delivery is `failed`).
The outbox row is written once per delivery and claimed by each attempt, so a retry never
sends a second message after a first one succeeded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.email_sender import subject
from alerts.failures import DeliveryFailed, DeliveryRefused
from alerts.models import NotificationDelivery
from bot import outbox
from bot.messenger import Messenger, Outgoing
from bot.send_errors import Verdict
from store.dialects import upsert_for
from store.models import Customer, Message, Restaurant
from store.timeutil import utcnow

WINDOW = dt.timedelta(hours=24)
SENT = ("sent", "simulated", "delivered", "read")


class WhatsAppSender:
    """Sends events to owners' WhatsApp numbers from their restaurant's number.

    Parameters:
      template_sid: `CONTENT_SID_OWNER_ALERT`, for owners outside the 24-hour window.
      retry_delay_ms: Recorded on a retryable failure (the job's backoff does the retry).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        messenger: Messenger,
        template_sid: str | None,
        retry_delay_ms: int,
    ) -> None:
        self.sessions = sessions
        self.messenger = messenger
        self.template_sid = template_sid
        self.retry_delay_ms = retry_delay_ms

    def send(
        self, delivery_id: str, restaurant_id: str, number: str, event: dict[str, Any], *,
        final: bool,
    ) -> None:  # fmt: skip
        """Send `event` to `number`.

        Raises:
          DeliveryRefused: Twilio refused the number or the message (or the owner opted out).
          DeliveryFailed: A retryable send failure.
        """
        with self.sessions() as session, session.begin():
            message_id = self._outbox_row(session, delivery_id, restaurant_id, number, event)
        with self.sessions() as session, session.begin():
            item = outbox.claim(session, message_id)
            status, error = session.execute(
                select(Message.status, Message.error_message).where(Message.id == message_id)
            ).one()
        if item is None:
            if status in SENT:
                return
            if status == "failed":
                raise DeliveryRefused(error or "the owner's message failed")
            raise DeliveryFailed(f"the owner's message is {status}")
        attempts = outbox.send(self.messenger, [item])
        with self.sessions() as session, session.begin():
            outbox.record(session, attempts, retry_delay_ms=self.retry_delay_ms, final=final)
        failure = attempts[0].failure
        if failure is None:
            return
        what = f"Twilio {failure.code}: {failure.message}"
        if failure.verdict is Verdict.RETRY:
            raise DeliveryFailed(what)
        raise DeliveryRefused(what)

    def _outbox_row(
        self,
        session: Session,
        delivery_id: str,
        restaurant_id: str,
        number: str,
        event: dict[str, Any],
    ) -> int:
        delivery = session.get(NotificationDelivery, delivery_id)
        assert delivery is not None
        if delivery.message_id is not None:
            return delivery.message_id
        now = utcnow()
        restaurant = session.get(Restaurant, restaurant_id)
        assert restaurant is not None
        customer_id, last_accepted_at = _owner(session, restaurant_id, number, now)
        line = subject(event)
        in_window = last_accepted_at is not None and now - last_accepted_at < WINDOW
        if in_window or not self.template_sid:
            outgoing = Outgoing(restaurant.whatsapp_number, number, body=line)
        else:
            outgoing = Outgoing(
                restaurant.whatsapp_number,
                number,
                content_sid=self.template_sid,
                content_variables={"1": restaurant.name, "2": line},
            )
        item = outbox.add_outbound(
            session,
            restaurant_id=restaurant_id,
            customer_id=customer_id,
            conversation_id=None,
            outgoing=outgoing,
            now=now,
            claimed=False,
        )
        delivery.message_id = item.message_id
        return item.message_id


def _owner(
    session: Session, restaurant_id: str, number: str, now: dt.datetime
) -> tuple[int, dt.datetime | None]:
    dialect = session.connection().dialect.name
    session.execute(
        upsert_for(dialect)(Customer)
        .values(restaurant_id=restaurant_id, address=number, created_at=now)
        .on_conflict_do_nothing(index_elements=[Customer.restaurant_id, Customer.address])
    )
    customer_id, last_accepted_at = session.execute(
        select(Customer.id, Customer.last_accepted_at).where(
            Customer.restaurant_id == restaurant_id, Customer.address == number
        )
    ).one()
    return int(customer_id), last_accepted_at


def reopen_message(session: Session, message_id: int) -> None:
    """Make the delivery's failed, never-sent outbox row sendable again (a replay)."""
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == "failed", Message.sid.is_(None))
        .values(status="queued", next_attempt_at=None, updated_at=utcnow())
    )
