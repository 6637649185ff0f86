"""The outbox: outbound messages are written before they are sent, then sent, then recorded.

A row is sent by whoever *claims* it (status `queued` → `sending` in one conditional
UPDATE): the webhook claims the rows it creates, the delivery actor claims a row before a
retry, so a row gets at most one successful send even when the two race. Timeouts are
ambiguous (Twilio may have the message), so a row that timed out is retried once more at
most; definite failures (5xx, 429, connection refused) are retried until sent or dead.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.messenger import Messenger, Outgoing, Sent
from bot.send_errors import SendFailure, Verdict, classify
from insights import events as insight_events
from store.models import Customer, Message, Restaurant
from store.timeutil import utcnow

logger = logging.getLogger(__name__)

# A timed-out send may have reached Twilio: retry it this many times in all, no more.
MAX_TIMEOUTS = 2
# A row claimed for sending longer ago than this belongs to a sender that died.
STALE_CLAIM = dt.timedelta(minutes=2)
# A queued row whose retry is this late has lost its job (the relay re-enqueues it).
RELAY_GRACE = dt.timedelta(minutes=5)


_NOW = bindparam("now", type_=Message.created_at.type)
_INSERT_OUTBOUND = (
    insert(Message)
    .values(
        restaurant_id=bindparam("restaurant_id"),
        customer_id=bindparam("customer_id"),
        conversation_id=bindparam("conversation_id"),
        direction="outbound",
        body=bindparam("body"),
        content_sid=bindparam("content_sid"),
        content_variables=bindparam("content_variables"),
        status=bindparam("status"),
        send_attempts=0,
        send_timeouts=0,
        created_at=_NOW,
        updated_at=_NOW,
    )
    .returning(Message.id)
)
_RECORD_SENT = (
    update(Message)
    .where(Message.id == bindparam("message_id"))
    .values(
        sid=bindparam("sid"),
        status=bindparam("status"),
        sent_at=_NOW,
        updated_at=_NOW,
        send_attempts=Message.send_attempts + 1,
        error_code=None,
        error_message=None,
    )
)


@dataclass(frozen=True)
class OutboxItem:
    """An outbound row and what to send for it."""

    message_id: int
    customer_id: int | None
    outgoing: Outgoing
    restaurant_id: str | None = None


@dataclass(frozen=True)
class Attempt:
    """The result of one send of one outbox row."""

    item: OutboxItem
    sent: Sent | None = None
    failure: SendFailure | None = None


def add_outbound(
    session: Session,
    *,
    restaurant_id: str,
    customer_id: int,
    conversation_id: int | None,
    outgoing: Outgoing,
    now: dt.datetime,
    claimed: bool = True,
) -> OutboxItem:
    """Write an outbound row (claimed by the caller, who sends it after commit)."""
    variables = outgoing.content_variables
    message_id = (
        session.connection()
        .execute(
            _INSERT_OUTBOUND,
            {
                "restaurant_id": restaurant_id,
                "customer_id": customer_id,
                "conversation_id": conversation_id,
                "body": outgoing.body,
                "content_sid": outgoing.content_sid,
                "content_variables": (
                    json.dumps(variables, ensure_ascii=False) if variables is not None else None
                ),
                "status": "sending" if claimed else "queued",
                "now": now,
            },
        )
        .scalar_one()
    )
    return OutboxItem(message_id, customer_id, outgoing, restaurant_id)


def send(
    messenger: Messenger, items: list[OutboxItem], *, failure_level: int = logging.WARNING
) -> list[Attempt]:
    """Send each item once, in order; never raises for a send error.

    `failure_level` is the level of a failure's log line (a delivery job lowers it: its own
    line reports the failure).
    """
    attempts = []
    for item in items:
        try:
            attempts.append(Attempt(item, sent=messenger.send(item.outgoing)))
        except Exception as error:
            failure = classify(error)
            logger.log(
                failure_level,
                "send of outbound message %s failed: %s %s%s",
                item.message_id,
                failure.code,
                failure.message,
                " (may have reached Twilio)" if failure.timed_out else "",
            )
            attempts.append(Attempt(item, failure=failure))
    return attempts


def record(
    db: Session | Connection,
    attempts: list[Attempt],
    *,
    retry_delay_ms: int,
    final: bool = False,
    events: bool = True,
) -> list[int]:
    """Store the attempts' outcomes; return ids of rows that should be retried later.

    Each outcome is one self-contained UPDATE, so `db` may be an autocommit connection
    when every send succeeded; a row that failed for good also writes its
    `delivery_failed` event, so give a transaction when some failed.

    Parameters:
      retry_delay_ms(int): When a retryable row becomes due again.
      final(bool): No retry will follow (the caller's retries are exhausted): retryable
        failures are recorded as `failed`.
      events(bool): Write conversation events (`INSIGHT_EVENTS`).
    """
    now = utcnow()
    retry = []
    for attempt in attempts:
        message_id = attempt.item.message_id
        if attempt.sent is not None:
            status = "simulated" if attempt.sent.status == "simulated" else "sent"
            _connection(db).execute(
                _RECORD_SENT,
                {"message_id": message_id, "sid": attempt.sent.sid, "status": status, "now": now},
            )
            continue
        failure = attempt.failure
        assert failure is not None
        values: dict[str, object] = {
            "error_code": failure.code,
            "error_message": failure.message,
            "updated_at": now,
            "send_attempts": Message.send_attempts + 1,
        }
        if failure.timed_out:
            values["send_timeouts"] = Message.send_timeouts + 1
        timeouts_so_far = _timeouts(db, message_id) + (1 if failure.timed_out else 0)
        give_up = (
            failure.verdict is not Verdict.RETRY
            or final
            or (failure.timed_out and timeouts_so_far >= MAX_TIMEOUTS)
        )
        if give_up:
            values["status"] = "failed"
            if failure.timed_out and failure.verdict is Verdict.RETRY:
                logger.error(
                    "outbound message %s timed out %d times; not retrying (it may have arrived)",
                    message_id,
                    timeouts_so_far,
                )
        else:
            values["status"] = "queued"
            values["next_attempt_at"] = now + dt.timedelta(milliseconds=retry_delay_ms)
            retry.append(message_id)
        row = db.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(**values)
            .returning(Message.restaurant_id, Message.customer_id, Message.conversation_id)
        ).first()
        if give_up and events and row is not None:
            delivery_failed(_connection(db), *row, failure.code, now)
        if failure.verdict is Verdict.OPT_OUT and attempt.item.customer_id is not None:
            opt_out(db, attempt.item.customer_id, now)
    return retry


def delivery_failed(
    connection: Connection,
    restaurant_id: str,
    customer_id: int | None,
    conversation_id: int | None,
    error_code: str | None,
    now: dt.datetime,
) -> None:
    """Write the `delivery_failed` event of an outbound message that failed for good."""
    event = insight_events.Event(
        restaurant_id,
        customer_id,
        conversation_id,
        insight_events.DELIVERY_FAILED,
        now,
        {"errorCode": error_code},
    )
    insight_events.write(connection, [event])
    insight_events.written(1)


def mark_for_relay(db: Session | Connection, message_ids: list[int]) -> None:
    """Mark queued rows whose retry could not be enqueued (Redis down) as lost, so the
    relay's next tick re-enqueues them instead of waiting out its grace period."""
    lost = utcnow() - RELAY_GRACE - dt.timedelta(seconds=1)
    db.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.status == "queued")
        .values(next_attempt_at=lost)
    )


def _connection(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def _timeouts(db: Session | Connection, message_id: int) -> int:
    return int(db.scalar(select(Message.send_timeouts).where(Message.id == message_id)) or 0)


def opt_out(db: Session | Connection, customer_id: int, now: dt.datetime) -> None:
    """Mark the customer opted out: Twilio said 21610 (the recipient unsubscribed), on a
    send or in a status callback. (A customer's STOP is handled by `bot.inbound`.)"""
    db.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.opted_out_at.is_(None))
        .values(opted_out_at=now)
    )


def claim(session: Session, message_id: int) -> OutboxItem | None:
    """Claim a queued outbound row for sending; None when another sender has it or it is done.

    A row whose customer opted out after it was written is failed instead of sent.
    """
    now = utcnow()
    claimed = session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.direction == "outbound",
            Message.status == "queued",
        )
        .values(status="sending", updated_at=now)
        .returning(Message.id)
    ).first()
    if claimed is None:
        return None
    row = session.execute(
        select(Message, Customer, Restaurant.whatsapp_number)
        .join(Customer, Customer.id == Message.customer_id)
        .join(Restaurant, Restaurant.id == Message.restaurant_id)
        .where(Message.id == message_id)
    ).one()
    message, customer, from_number = row
    # The STOP confirmation is written at the moment of opting out, and still goes out;
    # anything written before the customer opted out must not.
    if customer.opted_out_at is not None and customer.opted_out_at > message.created_at:
        message.status = "failed"
        message.error_code = "opted_out"
        message.error_message = "the customer opted out before this message was sent"
        return None
    variables = json.loads(message.content_variables) if message.content_variables else None
    outgoing = Outgoing(
        from_number=from_number,
        to_address=customer.address,
        body=message.body,
        content_sid=message.content_sid,
        content_variables=variables,
    )
    return OutboxItem(message.id, customer.id, outgoing, message.restaurant_id)
