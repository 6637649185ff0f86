"""Replies a worker composes: the catalog was not cached when the message came in.

Replies of one conversation are composed and sent in the order their messages arrived,
under the customer's lock; while any wait, the webhook defers later replies too.

The catalog API is never called under that lock: the webhook of the customer's next
message waits on it, and the webhook never waits on the catalog. So each round first
fetches what the waiting replies need (through the cache, no lock held), then takes the
lock and composes from the cache alone. A reply whose data is still not cached (a newer
message asked for something else meanwhile) waits for the next round, and those after it
too, so the order holds. After a few rounds the rest is composed under the lock as a last
resort (a cache that keeps nothing, e.g. Redis down and no local tier).

A customer who opted out after asking gets none of the waiting replies.

A composed reply writes its conversation events (SPEC §12) in the same transaction as its
outbox rows, dated at the inbound message's time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import flow, outbox, texts
from bot.inbound import Receipt, reply_events
from bot.messenger import Outgoing
from bot.reception import Reception, customer_lock
from catalog.errors import CatalogError
from insights import events as insight_events
from store import counters
from store.counters import UsagePeriod
from store.models import Conversation, Customer, Message, Restaurant
from store.timeutil import utcnow

logger = logging.getLogger(__name__)

ROUNDS = 3


def send_deferred(
    reception: Reception,
    sessions: sessionmaker[Session],
    loader: flow.CatalogView,
    peek: flow.CatalogView,
    conversation_id: int,
    *,
    final: bool,
) -> int:
    """Compose and send every waiting reply of the conversation; return how many.

    `loader` reads through the cache to the catalog API; `peek` reads the cache only.

    Raises:
      CatalogError: The catalog could not answer, the error is retryable and this is not
        the final try (otherwise the customer gets an apology instead).
    """
    with sessions() as session:
        row = session.execute(
            select(Customer.address, Restaurant)
            .join(Conversation, Conversation.customer_id == Customer.id)
            .join(Restaurant, Restaurant.id == Conversation.restaurant_id)
            .where(Conversation.id == conversation_id)
        ).first()
    if row is None:
        return 0
    address, restaurant = row
    sent = 0
    for round_ in range(ROUNDS + 1):
        last_resort = round_ == ROUNDS
        unavailable = False
        if not last_resort:
            unavailable = _fetch_waiting(sessions, loader, conversation_id, restaurant, final)
        with customer_lock(reception.redis, reception.keys, restaurant.id, address):
            with sessions() as session, session.begin():
                receipt, waiting = _compose_waiting(
                    session,
                    loader if last_resort else peek,
                    conversation_id,
                    restaurant,
                    address,
                    apologise=unavailable,
                    final=final,
                    record_events=reception.inbox.record_events,
                )
            insight_events.written(len(receipt.events))
            reception.deliver(receipt)
        sent += len(receipt.to_send)
        if not waiting:
            break
    return sent


def _waiting(session: Session, conversation_id: int) -> Sequence[Message]:
    return session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.reply_intent.is_not(None))
        .order_by(Message.id)
    ).all()


def _fetch_waiting(
    sessions: sessionmaker[Session],
    loader: flow.CatalogView,
    conversation_id: int,
    restaurant: Restaurant,
    final: bool,
) -> bool:
    """Load what the waiting replies need into the cache; True when the catalog cannot
    answer and the customer is to get an apology (final try, or a permanent error)."""
    with sessions() as session:
        intents = [m.reply_intent for m in _waiting(session, conversation_id)]
    for intent in intents:
        assert intent is not None
        try:
            flow.compose(intent, restaurant.merchant_id, loader)
        except CatalogError as error:
            if error.retryable and not final:
                raise
            logger.warning(
                "replies of conversation %s: catalog of %s unavailable (%s); apologising",
                conversation_id,
                restaurant.merchant_id,
                error,
            )
            return True
    return False


def _compose_waiting(
    session: Session,
    catalog: flow.CatalogView,
    conversation_id: int,
    restaurant: Restaurant,
    address: str,
    *,
    apologise: bool,
    final: bool,
    record_events: bool = True,
) -> tuple[Receipt, bool]:
    """Compose the waiting replies in order into the outbox; return the receipt and
    whether some still wait (their data was not in the cache)."""
    conversation = session.get(Conversation, conversation_id, with_for_update=True)
    assert conversation is not None
    waiting = _waiting(session, conversation_id)
    opted_out = session.scalar(
        select(Customer.opted_out_at).where(Customer.id == conversation.customer_id)
    )
    receipt = Receipt("received", conversation_id=conversation_id)
    now = utcnow()
    done = 0
    for inbound in waiting:
        assert inbound.reply_intent is not None
        composed = None
        if opted_out is None:
            try:
                composed = flow.compose(inbound.reply_intent, restaurant.merchant_id, catalog)
            except CatalogError as error:
                if error.retryable and not final:
                    raise
                apologise = True
            if composed is None and not apologise:
                break  # not cached yet: this one and the ones after it wait a round
            for part in (composed or flow.Composed([texts.CATALOG_UNAVAILABLE])).parts:
                receipt.to_send.append(
                    outbox.add_outbound(
                        session,
                        restaurant_id=restaurant.id,
                        customer_id=inbound.customer_id or conversation.customer_id,
                        conversation_id=conversation_id,
                        outgoing=Outgoing(restaurant.whatsapp_number, address, body=part),
                        now=now,
                    )
                )
            if composed is not None and composed.branch_id is not None:
                conversation.branch_id = composed.branch_id
            if composed is not None:
                intent = flow.read_intent(inbound.body)
                for kind, detail in reply_events(composed, intent, inbound.body):
                    receipt.events.append(
                        insight_events.Event(
                            restaurant.id,
                            inbound.customer_id or conversation.customer_id,
                            conversation_id,
                            kind,
                            inbound.created_at,  # the events happened when the message came
                            detail,
                        )
                    )
        session.execute(update(Message).where(Message.id == inbound.id).values(reply_intent=None))
        done += 1
    conversation.pending_replies = max(0, conversation.pending_replies - done)
    if record_events:
        insight_events.write(session.connection(), receipt.events)
    else:
        receipt.events.clear()
    if receipt.to_send:
        # Outbound messages are activity too (the usage API's `lastActivity`).
        period = UsagePeriod.of(now, restaurant.timezone)
        counters.record_month(session, restaurant.id, period, now)
    return receipt, done < len(waiting)
