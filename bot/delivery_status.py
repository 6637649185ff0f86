"""Twilio status callbacks: an outbound message's status only moves forward."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import outbox
from bot.send_errors import UNSUBSCRIBED
from store.models import Message
from store.timeutil import utcnow

logger = logging.getLogger(__name__)

# queued < sending < sent < delivered < read; Twilio's own early states count as queued.
RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
}
# Final unless the message was delivered first; nothing moves a row out of them (a row
# only has a Twilio SID, and so callbacks, once Twilio accepted it).
FAILURES = {"failed", "undelivered"}


def allowed_predecessors(status: str) -> list[str]:
    """Return the statuses that `status` may replace."""
    if status in FAILURES:
        return [s for s, rank in RANK.items() if rank < RANK["delivered"]]
    return [s for s, rank in RANK.items() if rank < RANK[status]]


def apply(
    session: Session, sid: str, status: str, error_code: str | None, *, record_events: bool = True
) -> None:
    """Record a status callback for message `sid` (unknown sids and stale statuses: logged);
    a failure writes the message's `delivery_failed` event."""
    if status not in RANK and status not in FAILURES:
        logger.info("status callback for %s with unhandled status %r ignored", sid, status)
        return
    values: dict[str, object] = {"status": status, "updated_at": utcnow()}
    if error_code:
        values["error_code"] = error_code[:16]
    updated = session.execute(
        update(Message)
        .where(
            Message.sid == sid,
            Message.direction == "outbound",
            Message.status.in_(allowed_predecessors(status)),
        )
        .values(**values)
        .returning(Message.customer_id, Message.restaurant_id, Message.conversation_id)
    ).first()
    if updated is None:
        current = session.scalar(select(Message.status).where(Message.sid == sid))
        if current is None:
            logger.warning("status callback %r for unknown message %s", status, sid)
        else:
            logger.info("status %r for %s ignored: already %r", status, sid, current)
        return
    now = utcnow()
    if status in FAILURES and record_events:
        # Failures are final: a repeated callback updates no row and writes no event.
        outbox.delivery_failed(
            session.connection(),
            updated.restaurant_id,
            updated.customer_id,
            updated.conversation_id,
            error_code[:16] if error_code else None,
            now,
        )
    if error_code == str(UNSUBSCRIBED) and updated.customer_id is not None:
        outbox.opt_out(session, updated.customer_id, now)
