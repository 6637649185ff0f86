"""Receiving one inbound WhatsApp message: store, count, decide, reply (SPEC §4).

Everything the message changes — the inbound row, counters, conversation, customer, outbox
rows and job rows — is written in ONE transaction, before anything is sent. The unique
MessageSid is the idempotency guard: the inbound row is inserted with
`ON CONFLICT DO NOTHING`, and a redelivery rolls the whole transaction back, counters
included. Sending the claimed outbox rows and enqueuing the jobs happen after commit
(`bot.reception`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import flow, jobs, outbox, texts
from bot.allowances import MinuteAllowance
from bot.messenger import Outgoing
from bot.tenants import Tenant
from store import counters
from store.counters import UsagePeriod
from store.models import Conversation, Customer, Job, Message
from store.timeutil import iso_z

SESSION_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class InboundMessage:
    """A parsed Twilio inbound message (addresses without the `whatsapp:` prefix)."""

    sid: str
    from_address: str
    to_number: str
    body: str
    profile_name: str | None = None
    button_payload: str | None = None


@dataclass
class Receipt:
    """What receiving a message decided; the sends and enqueues happen after commit."""

    status: str  # received | throttled | ignored | duplicate
    message_id: int | None = None
    conversation_id: int | None = None
    new_conversation: bool = False
    to_send: list[outbox.OutboxItem] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)


@dataclass(frozen=True)
class _Customer:
    id: int
    opted_out_at: dt.datetime | None
    conversation_id: int | None
    last_accepted_at: dt.datetime | None

    def open_conversation(self, now: dt.datetime) -> int | None:
        """Return the conversation still inside WhatsApp's 24-hour window, if any."""
        if self.conversation_id is None or self.last_accepted_at is None:
            return None
        return self.conversation_id if now - self.last_accepted_at < SESSION_WINDOW else None


class Inbox:
    """Decides and stores what an inbound message does, inside the caller's transaction.

    Parameters:
      allowance(MinuteAllowance): The per-minute window in Redis.
      catalog(flow.CatalogView): Catalog data available without waiting (the cache).
    """

    def __init__(self, allowance: MinuteAllowance, catalog: flow.CatalogView) -> None:
        self.allowance = allowance
        self.catalog = catalog

    def receive(
        self, session: Session, tenant: Tenant, message: InboundMessage, now: dt.datetime
    ) -> Receipt:
        """Store `message` and everything it changes; see the module docstring."""
        customer = _upsert_customer(session, tenant, message, now)
        intent = flow.read_intent(message.body, message.button_payload)
        period = UsagePeriod.of(now, tenant.timezone)
        open_id = customer.open_conversation(now)

        if not tenant.accepts_messages or (customer.opted_out_at and intent.kind != "start"):
            return self._unanswered(session, tenant, message, customer, open_id, "ignored", now)
        if self._refused(session, tenant, message, period, now, opens=open_id is None):
            return self._unanswered(session, tenant, message, customer, open_id, "throttled", now)

        if open_id is None:
            conversation = Conversation(
                restaurant_id=tenant.id,
                customer_id=customer.id,
                started_at=now,
                last_message_at=now,
            )
            session.add(conversation)
            session.flush()
        else:
            found = session.get(Conversation, open_id)
            assert found is not None
            conversation = found
            conversation.last_message_at = now
        message_id = _insert_inbound(
            session, tenant, message, customer.id, conversation.id, "received", now
        )
        if message_id is None:
            return Receipt(status="duplicate")
        receipt = Receipt("received", message_id, conversation.id, open_id is None)

        changes: dict[str, Any] = {
            "last_accepted_at": now,
            "current_conversation_id": conversation.id,
        }
        reply = _Replies(session, receipt, tenant, message, customer.id, now)
        if intent.kind == "stop":
            changes["opted_out_at"] = now
            reply.text(texts.OPTED_OUT.format(restaurant=tenant.name))
        elif intent.kind == "start":
            changes["opted_out_at"] = None
            reply.text(texts.OPTED_IN.format(restaurant=tenant.name))
        elif open_id is None:
            reply.welcome()
        else:
            reply.flow(conversation, intent, self.catalog)
        session.execute(update(Customer).where(Customer.id == customer.id).values(**changes))
        return receipt

    def _refused(
        self,
        session: Session,
        tenant: Tenant,
        message: InboundMessage,
        period: UsagePeriod,
        now: dt.datetime,
        *,
        opens: bool,
    ) -> bool:
        """Count the message against every allowance; True when one of them refuses it."""
        if not self.allowance.take(tenant.id, message.sid, tenant.per_minute_limit):
            return True
        if not counters.take_daily_message(session, tenant.id, period, tenant.daily_limit):
            self.allowance.give_back(tenant.id, message.sid)
            return True
        counted = counters.record_month(
            session,
            tenant.id,
            period,
            now,
            messages=1,
            opens_conversation=opens,
            monthly_limit=tenant.monthly_limit,
        )
        if not counted:
            counters.release_daily_message(session, tenant.id, period)
            self.allowance.give_back(tenant.id, message.sid)
        return not counted

    def _unanswered(
        self,
        session: Session,
        tenant: Tenant,
        message: InboundMessage,
        customer: _Customer,
        open_id: int | None,
        status: str,
        now: dt.datetime,
    ) -> Receipt:
        message_id = _insert_inbound(session, tenant, message, customer.id, open_id, status, now)
        if message_id is None:
            return Receipt(status="duplicate")
        # Stored messages are activity, even when they are not counted.
        counters.record_month(session, tenant.id, UsagePeriod.of(now, tenant.timezone), now)
        return Receipt(status, message_id, open_id)


class _Replies:
    """Writes the replies to one inbound message into the outbox (claimed for sending)."""

    def __init__(
        self,
        session: Session,
        receipt: Receipt,
        tenant: Tenant,
        message: InboundMessage,
        customer_id: int,
        now: dt.datetime,
    ) -> None:
        self.session, self.receipt, self.tenant = session, receipt, tenant
        self.message, self.customer_id, self.now = message, customer_id, now

    def _add(self, outgoing: Outgoing) -> None:
        item = outbox.add_outbound(
            self.session,
            restaurant_id=self.tenant.id,
            customer_id=self.customer_id,
            conversation_id=self.receipt.conversation_id,
            outgoing=outgoing,
            now=self.now,
        )
        self.receipt.to_send.append(item)

    def text(self, body: str) -> None:
        self._add(Outgoing(self.tenant.whatsapp_number, self.message.from_address, body=body))

    def welcome(self) -> None:
        """The welcome template (or plain text without one), then the bootstrap job."""
        tenant, message = self.tenant, self.message
        if tenant.welcome_content_sid:
            variables = {"1": tenant.name, "2": message.profile_name or ""}
            self._add(
                Outgoing(
                    tenant.whatsapp_number,
                    message.from_address,
                    content_sid=tenant.welcome_content_sid,
                    content_variables=variables,
                )
            )
        else:
            name = f", {message.profile_name}" if message.profile_name else ""
            self.text(texts.WELCOME.format(restaurant=tenant.name, customer=name))
        payload = {
            "restaurant_id": tenant.id,
            "merchant_id": tenant.merchant_id,
            "customer": message.from_address,
            "requested_at": iso_z(self.now),
        }
        job = jobs.add_job(self.session, jobs.WELCOME_BOOTSTRAP, payload, restaurant_id=tenant.id)
        self.receipt.jobs.append(job)

    def flow(
        self, conversation: Conversation, intent: flow.Intent, catalog: flow.CatalogView
    ) -> None:
        """Answer from cache when possible; otherwise leave the reply to a worker."""
        reply, last_list = flow.decide(intent, conversation.last_list)
        conversation.last_list = last_list
        composed = None
        if conversation.pending_replies == 0:
            composed = flow.compose(reply, self.tenant.merchant_id, catalog)
        if composed is not None:
            for part in composed.parts:
                self.text(part)
            if composed.branch_id is not None:
                conversation.branch_id = composed.branch_id
            return
        # Not cached (or earlier replies still waiting): a worker composes and sends it,
        # in order; the "last list shown" is already decided above.
        conversation.pending_replies = conversation.pending_replies + 1
        self.session.execute(
            update(Message).where(Message.id == self.receipt.message_id).values(reply_intent=reply)
        )
        job = jobs.add_job(
            self.session,
            jobs.SEND_DEFERRED_REPLIES,
            {"conversation_id": conversation.id},
            restaurant_id=self.tenant.id,
        )
        self.receipt.jobs.append(job)


def _insert(session: Session, model: type) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(model)


def _upsert_customer(
    session: Session, tenant: Tenant, message: InboundMessage, now: dt.datetime
) -> _Customer:
    # ON CONFLICT DO UPDATE also locks the customer's row until commit (PostgreSQL), so
    # two messages of one customer decide their conversation one after the other.
    insert = _insert(session, Customer).values(
        restaurant_id=tenant.id,
        address=message.from_address,
        profile_name=message.profile_name,
        created_at=now,
    )
    statement = insert.on_conflict_do_update(
        index_elements=[Customer.restaurant_id, Customer.address],
        set_={"profile_name": func.coalesce(insert.excluded.profile_name, Customer.profile_name)},
    ).returning(
        Customer.id,
        Customer.opted_out_at,
        Customer.current_conversation_id,
        Customer.last_accepted_at,
    )
    return _Customer(*session.execute(statement).one())


def _insert_inbound(
    session: Session,
    tenant: Tenant,
    message: InboundMessage,
    customer_id: int,
    conversation_id: int | None,
    status: str,
    now: dt.datetime,
) -> int | None:
    """Insert the inbound row unless its MessageSid exists; return its id or None."""
    statement = (
        _insert(session, Message)
        .values(
            sid=message.sid,
            restaurant_id=tenant.id,
            conversation_id=conversation_id,
            customer_id=customer_id,
            direction="inbound",
            body=message.body,
            status=status,
            created_at=now,
            updated_at=now,
            send_attempts=0,
            send_timeouts=0,
        )
        .on_conflict_do_nothing(index_elements=[Message.sid])
        .returning(Message.id)
    )
    row = session.execute(statement).first()
    return None if row is None else int(row[0])
