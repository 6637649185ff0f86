"""Receiving one inbound WhatsApp message: store, count, decide, reply (SPEC §4).

Everything the message changes — the inbound row, counters, conversation, customer, outbox
rows and job rows — is written in ONE transaction, before anything is sent. The unique
MessageSid is the idempotency guard: the inbound row is inserted with
`ON CONFLICT DO NOTHING`, and a redelivery rolls the whole transaction back. The
restaurant-wide counter rows are updated last, so the row locks every message of a
restaurant needs are held only for the moment before commit; if an allowance refuses
the message, the transaction is rolled back and the message stored as `throttled`.
Sending the claimed outbox rows and enqueuing the jobs happen after commit
(`bot.reception`). The conversation events the message causes (SPEC §12) are collected
on the receipt and written with one multi-row INSERT just before the counter updates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, update
from sqlalchemy.orm import Session

from alerts.crossing import Crossings
from bot import flow, inbound_sql, jobs, outbox, texts
from bot.allowances import MinuteAllowance
from bot.messenger import Outgoing
from bot.tenants import Tenant
from insights import events as insight_events
from insights.events import Event
from store import counters
from store.counters import UsagePeriod
from store.job_kinds import SEND_DEFERRED_REPLIES, WELCOME_BOOTSTRAP
from store.models import Job, Message
from store.timeutil import iso_z

SESSION_WINDOW = dt.timedelta(hours=24)


class AllowanceRefused(Exception):
    """The daily or monthly allowance refused the message: roll back, store it throttled."""


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
    events: list[Event] = field(default_factory=list)


@dataclass
class _Conversation:
    id: int
    last_list: str | None = None
    branch_id: str | None = None
    pending_replies: int = 0


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
      alerts(Crossings): Turns the counters' new values into alert firings (SPEC §15).
      record_events(bool): Write conversation events (`INSIGHT_EVENTS`; benchmarks only).
    """

    def __init__(
        self,
        allowance: MinuteAllowance,
        catalog: flow.CatalogView,
        alerts: Crossings | None = None,
        *,
        record_events: bool = True,
    ) -> None:
        self.allowance = allowance
        self.catalog = catalog
        self.alerts = alerts or Crossings()
        self.record_events = record_events

    def receive(
        self, session: Session, tenant: Tenant, message: InboundMessage, now: dt.datetime
    ) -> Receipt:
        """Store `message` and everything it changes; see the module docstring.

        Raises:
          AllowanceRefused: The daily or monthly allowance is used up; the caller rolls
            back and calls `receive_throttled`.
        """
        connection = session.connection()
        sql = inbound_sql.statements(connection.dialect.name)
        customer = _upsert_customer(connection, sql, tenant, message, now)
        intent = flow.read_intent(message.body, message.button_payload)
        open_id = customer.open_conversation(now)
        if not tenant.accepts_messages or (customer.opted_out_at and intent.kind != "start"):
            return self._unanswered(session, tenant, message, customer, open_id, "ignored", now)
        if not self.allowance.take(tenant.id, message.sid, tenant.per_minute_limit):
            return self._unanswered(session, tenant, message, customer, open_id, "throttled", now)

        if open_id is None:
            conversation = _Conversation(
                connection.execute(
                    sql["insert_conversation"],
                    {"restaurant_id": tenant.id, "customer_id": customer.id, "now": now},
                ).scalar_one()
            )
        else:
            found = connection.execute(sql["select_conversation"], {"id": open_id}).one()
            conversation = _Conversation(open_id, *found)
        message_id = _insert_inbound(
            connection, sql, tenant, message, customer.id, conversation.id, "received", now
        )
        if message_id is None:
            return Receipt(status="duplicate")
        receipt = Receipt("received", message_id, conversation.id, open_id is None)
        reply = _Replies(session, receipt, tenant, message, customer.id, now)
        opened = open_id is None
        reply.event(
            insight_events.MESSAGE_IN,
            insight_events.opened_conversation(customer.conversation_id is not None)
            if opened
            else None,
        )
        opted_out_at = customer.opted_out_at
        if intent.kind == "stop":
            opted_out_at = now
            if conversation.pending_replies:
                reply.cancel_waiting(conversation)
            reply.text(texts.OPTED_OUT.format(restaurant=tenant.name))
            reply.event(insight_events.OPTED_OUT)
        elif intent.kind == "start":
            opted_out_at = None
            reply.text(texts.OPTED_IN.format(restaurant=tenant.name))
            reply.event(insight_events.OPTED_IN)
        elif open_id is None:
            reply.welcome()
        else:
            reply.flow(conversation, intent, self.catalog)
        connection.execute(
            sql["update_conversation"],
            {
                "row_id": conversation.id,
                "now": now,
                "last_list": conversation.last_list,
                "branch_id": conversation.branch_id,
                "pending_replies": conversation.pending_replies,
            },
        )
        connection.execute(
            sql["update_customer"],
            {
                "row_id": customer.id,
                "now": now,
                "conversation_id": conversation.id,
                "opted": opted_out_at,
            },
        )
        self._write_events(connection, receipt)
        # Last: the counter rows every message of the restaurant updates.
        period = UsagePeriod.of(now, tenant.timezone)
        day = counters.count_daily_message(
            session, tenant.id, period, tenant.daily_limit, opens_conversation=opened
        )
        conversations = None
        if day is not None:
            conversations = counters.count_month(
                session,
                tenant.id,
                period,
                now,
                messages=1,
                opens_conversation=opened,
                monthly_limit=tenant.monthly_limit,
            )
        if day is None or conversations is None:
            raise AllowanceRefused(tenant.id)
        # Alert thresholds, decided from the values the upserts returned (SPEC §15).
        receipt.jobs += self.alerts.after_accepted(
            session, tenant, period, day, conversations, opened_conversation=opened, now=now
        )
        return receipt

    def receive_throttled(
        self, session: Session, tenant: Tenant, message: InboundMessage, now: dt.datetime
    ) -> Receipt:
        """Store `message` as `throttled` (after `AllowanceRefused` rolled the rest back)."""
        self.allowance.give_back(tenant.id, message.sid)
        connection = session.connection()
        sql = inbound_sql.statements(connection.dialect.name)
        customer = _upsert_customer(connection, sql, tenant, message, now)
        open_id = customer.open_conversation(now)
        return self._unanswered(session, tenant, message, customer, open_id, "throttled", now)

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
        connection = session.connection()
        sql = inbound_sql.statements(connection.dialect.name)
        message_id = _insert_inbound(
            connection, sql, tenant, message, customer.id, open_id, status, now
        )
        if message_id is None:
            return Receipt(status="duplicate")
        receipt = Receipt(status, message_id, open_id)
        if status == "throttled":
            receipt.events.append(
                Event(tenant.id, customer.id, open_id, insight_events.THROTTLED, now)
            )
            self._write_events(connection, receipt)
        # Stored messages are activity, even when they are not counted.
        counters.record_month(session, tenant.id, UsagePeriod.of(now, tenant.timezone), now)
        return receipt

    def _write_events(self, connection: Connection, receipt: Receipt) -> None:
        if self.record_events:
            insight_events.write(connection, receipt.events)
        else:
            receipt.events.clear()


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

    def event(self, kind: str, detail: dict[str, Any] | None = None) -> None:
        """Note a conversation event of this message (written before the counters)."""
        self.receipt.events.append(
            Event(
                self.tenant.id,
                self.customer_id,
                self.receipt.conversation_id,
                kind,
                self.now,
                detail,
            )
        )

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
        self.event(insight_events.WELCOME_SENT)
        payload = {
            "restaurant_id": tenant.id,
            "merchant_id": tenant.merchant_id,
            "customer": message.from_address,
            "requested_at": iso_z(self.now),
        }
        job = jobs.add_job(self.session, WELCOME_BOOTSTRAP, payload, restaurant_id=tenant.id)
        self.receipt.jobs.append(job)

    def cancel_waiting(self, conversation: _Conversation) -> None:
        """Drop the replies still waiting for a worker: the customer said STOP after them
        (a quick START must not bring them back)."""
        self.session.connection().execute(
            update(Message)
            .where(Message.conversation_id == conversation.id, Message.reply_intent.is_not(None))
            .values(reply_intent=None)
        )
        conversation.pending_replies = 0

    def flow(
        self, conversation: _Conversation, intent: flow.Intent, catalog: flow.CatalogView
    ) -> None:
        """Answer from cache when possible; otherwise leave the reply to a worker."""
        reply, conversation.last_list = flow.decide(intent, conversation.last_list)
        composed = None
        if conversation.pending_replies == 0:
            composed = flow.compose(reply, self.tenant.merchant_id, catalog)
        if composed is not None:
            for part in composed.parts:
                self.text(part)
            if composed.branch_id is not None:
                conversation.branch_id = composed.branch_id
            for kind, detail in reply_events(composed, intent, self.message.body):
                self.event(kind, detail)
            return
        # Not cached (or earlier replies still waiting): a worker composes and sends it,
        # in order; the "last list shown" is already decided above.
        self.event(insight_events.REPLY_DEFERRED)
        conversation.pending_replies += 1
        self.session.connection().execute(
            update(Message).where(Message.id == self.receipt.message_id).values(reply_intent=reply)
        )
        job = jobs.add_job(
            self.session,
            SEND_DEFERRED_REPLIES,
            {"conversation_id": conversation.id},
            restaurant_id=self.tenant.id,
        )
        self.receipt.jobs.append(job)


def reply_events(
    composed: flow.Composed, intent: flow.Intent, body: str | None
) -> list[tuple[str, dict[str, Any] | None]]:
    """Return the conversation events of a composed reply to a message with `body`."""
    return insight_events.reply_events(
        composed.shown,
        category_id=composed.category_id,
        branch_id=composed.branch_id,
        unrecognised_text=body if flow.unrecognised(intent, body) else None,
        stray_number=intent.kind == "number",
    )


def _upsert_customer(
    connection: Connection,
    sql: dict[str, Any],
    tenant: Tenant,
    message: InboundMessage,
    now: dt.datetime,
) -> _Customer:
    row = inbound_sql.upsert_customer(
        connection,
        sql,
        restaurant_id=tenant.id,
        address=message.from_address,
        profile_name=message.profile_name,
        now=now,
    )
    return _Customer(*row)


def _insert_inbound(
    connection: Connection,
    sql: dict[str, Any],
    tenant: Tenant,
    message: InboundMessage,
    customer_id: int,
    conversation_id: int | None,
    status: str,
    now: dt.datetime,
) -> int | None:
    return inbound_sql.insert_inbound(
        connection,
        sql,
        sid=message.sid,
        restaurant_id=tenant.id,
        conversation_id=conversation_id,
        customer_id=customer_id,
        body=message.body,
        status=status,
        now=now,
    )
