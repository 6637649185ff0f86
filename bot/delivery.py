"""Retrying outbox rows whose first send failed, and relaying rows nobody is retrying."""

from __future__ import annotations

import datetime as dt
import logging

import dramatiq
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox
from bot.messenger import Messenger
from bot.reception import schedule_deliveries
from bot.send_errors import Verdict
from store.models import Message
from store.timeutil import utcnow

logger = logging.getLogger(__name__)


class SendFailed(dramatiq.errors.Retry):
    """A retryable send failure: the delivery job raises it so Dramatiq retries with backoff,
    and on its last attempt so that the job ends `dead`, in the dead letters.

    (A `Retry`, so Dramatiq's worker does not log each expected retry as an error with a
    traceback; the retry itself follows our backoff like any failure.)
    """


class SendRefused(Exception):
    """Twilio refused the send for good (or a timed-out send may have arrived): no retry."""


def redeliver(
    sessions: sessionmaker[Session],
    messenger: Messenger,
    message_id: int,
    *,
    final: bool,
    retry_delay_ms: int,
) -> str:
    """Send outbox row `message_id` if still unsent; return what happened.

    Raises:
      SendFailed: The send failed in a way worth retrying: retried by the delivery job's
        backoff, or, on its final try, the job is dead (the row is then `failed`).
      SendRefused: The send failed for good (the row is `failed`).
    """
    with sessions() as session, session.begin():
        item = outbox.claim(session, message_id)
    if item is None:
        return "nothing to send"
    # The job's retry line (or its final one) reports a failure at WARNING.
    attempts = outbox.send(messenger, [item], failure_level=logging.INFO)
    with sessions() as session, session.begin():
        retry = outbox.record(session, attempts, retry_delay_ms=retry_delay_ms, final=final)
    failure = attempts[0].failure
    if failure is None:
        return "sent"
    what = f"outbound message {message_id}: {failure.code} {failure.message}"
    if retry or (final and failure.verdict is Verdict.RETRY):
        raise SendFailed(what)
    raise SendRefused(f"{what}; not retried")


def reopen(sessions: sessionmaker[Session], message_id: int) -> bool:
    """Make a `failed`, never-sent row sendable again (an operator replayed its delivery
    from the dead letters); return True when it was reopened."""
    with sessions() as session, session.begin():
        reopened = session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.direction == "outbound",
                Message.status == "failed",
                Message.sid.is_(None),
            )
            .values(status="queued", next_attempt_at=None, updated_at=utcnow())
            .returning(Message.id)
        ).first()
    if reopened is not None:
        logger.info("outbound message %s reopened for a replayed delivery", message_id)
    return reopened is not None


def relay_outbox(sessions: sessionmaker[Session], broker: dramatiq.Broker) -> int:
    """Re-enqueue retries of rows left `queued`, and recover rows claimed by dead senders.

    A row stuck in `sending` may have reached Twilio, so it counts as a timeout (retried
    once at most). Returns the number of rows handed to the delivery actor.
    """
    now = utcnow()
    lost_before = now - outbox.RELAY_GRACE
    with sessions() as session, session.begin():
        stale = session.scalars(
            select(Message.id).where(
                Message.direction == "outbound",
                Message.status == "sending",
                Message.updated_at < now - outbox.STALE_CLAIM,
            )
        ).all()
        for message_id in stale:
            _release_stale_claim(session, message_id, now)
        due = session.execute(
            select(Message.id, Message.restaurant_id)
            .where(
                Message.direction == "outbound",
                Message.status == "queued",
                or_(
                    Message.next_attempt_at < lost_before,
                    Message.next_attempt_at.is_(None) & (Message.created_at < lost_before),
                ),
            )
            .order_by(Message.id)
            .limit(500)
        ).all()
        for message_id, _ in due:
            session.execute(
                update(Message).where(Message.id == message_id).values(next_attempt_at=now)
            )
    if due:
        schedule_deliveries(broker, sessions.begin, [(m, r) for m, r in due], 0)
    if due or stale:
        logger.info(
            "relay: %d outbound message(s) re-enqueued, %d stale claim(s)", len(due), len(stale)
        )
    return len(due)


def _release_stale_claim(session: Session, message_id: int, now: dt.datetime) -> None:
    timeouts = session.scalar(select(Message.send_timeouts).where(Message.id == message_id)) or 0
    give_up = timeouts + 1 >= outbox.MAX_TIMEOUTS
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == "sending")
        .values(
            status="failed" if give_up else "queued",
            send_timeouts=Message.send_timeouts + 1,
            error_code="timeout",
            error_message="the sender stopped before recording the result",
            next_attempt_at=now - outbox.RELAY_GRACE - dt.timedelta(seconds=1),
            updated_at=now,
        )
    )
