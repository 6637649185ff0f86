"""Replies a worker composes: the catalog was not cached when the message came in.

Replies of one conversation are composed and sent in the order their messages arrived,
under the customer's lock; while any wait, the webhook defers later replies too.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import flow, outbox, texts
from bot.inbound import Receipt
from bot.messenger import Outgoing
from bot.reception import Reception, customer_lock
from catalog.errors import CatalogError
from store import counters
from store.counters import UsagePeriod
from store.models import Conversation, Customer, Message, Restaurant
from store.timeutil import utcnow

logger = logging.getLogger(__name__)


def send_deferred(
    reception: Reception,
    sessions: sessionmaker[Session],
    catalog: flow.CatalogView,
    conversation_id: int,
    *,
    final: bool,
) -> int:
    """Compose and send every waiting reply of the conversation; return how many.

    Raises:
      CatalogError: The catalog could not answer, the error is retryable and this is not
        the final try (otherwise the customer gets an apology instead).
    """
    with sessions() as session:
        row = session.execute(
            select(Conversation, Customer.address, Restaurant)
            .join(Customer, Customer.id == Conversation.customer_id)
            .join(Restaurant, Restaurant.id == Conversation.restaurant_id)
            .where(Conversation.id == conversation_id)
        ).first()
    if row is None:
        return 0
    _, address, restaurant = row
    with customer_lock(reception.redis, reception.keys, restaurant.id, address):
        with sessions() as session, session.begin():
            receipt = _compose_waiting(
                session, catalog, conversation_id, restaurant, address, final
            )
        reception.deliver(receipt)
    return len(receipt.to_send)


def _compose_waiting(
    session: Session,
    catalog: flow.CatalogView,
    conversation_id: int,
    restaurant: Restaurant,
    address: str,
    final: bool,
) -> Receipt:
    conversation = session.get(Conversation, conversation_id, with_for_update=True)
    assert conversation is not None
    waiting = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.reply_intent.is_not(None))
        .order_by(Message.id)
    ).all()
    receipt = Receipt("received", conversation_id=conversation_id)
    now = utcnow()
    for inbound in waiting:
        assert inbound.reply_intent is not None
        try:
            composed = flow.compose(inbound.reply_intent, restaurant.merchant_id, catalog)
        except CatalogError as error:
            if error.retryable and not final:
                raise
            logger.warning(
                "reply to message %s: catalog of %s unavailable (%s); apologising",
                inbound.id,
                restaurant.merchant_id,
                error,
            )
            composed = None
        if composed is None:
            composed = flow.Composed([texts.CATALOG_UNAVAILABLE])
        for part in composed.parts:
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
        if composed.branch_id is not None:
            conversation.branch_id = composed.branch_id
        session.execute(update(Message).where(Message.id == inbound.id).values(reply_intent=None))
    conversation.pending_replies = max(0, conversation.pending_replies - len(waiting))
    if receipt.to_send:
        # Outbound messages are activity too (the usage API's `lastActivity`).
        period = UsagePeriod.of(now, restaurant.timezone)
        counters.record_month(session, restaurant.id, period, now)
    return receipt
