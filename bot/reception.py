"""Handling one webhook delivery end to end: lock, store, send, enqueue, record.

Messages of one customer are handled one at a time, in arrival order, under a short Redis
lock with a TTL (a crashed holder cannot block the customer for long). The lock covers
the sends too, so replies leave in the order the messages came. If Redis is down the
message is still handled: the database row lock still serialises the decision.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import dramatiq
import redis
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from bot import jobs, outbox
from bot.inbound import AllowanceRefused, InboundMessage, Inbox, Receipt
from bot.messenger import Messenger
from bot.tenants import Tenant
from insights import events as insight_events
from store.job_kinds import DELIVER_MESSAGE
from store.redis import Keys
from store.settings import Settings
from store.timeutil import utcnow

logger = logging.getLogger(__name__)

LOCK_TTL_S = 10.0
LOCK_WAIT_S = 8.0


@contextmanager
def customer_lock(
    client: redis.Redis, keys: Keys, restaurant_id: str, address: str
) -> Iterator[None]:
    """Hold the customer's lock for the block; go on without it if Redis cannot give it."""
    lock = client.lock(
        keys("lock", "customer", restaurant_id, address),
        timeout=LOCK_TTL_S,
        blocking_timeout=LOCK_WAIT_S,
        sleep=0.005,
    )
    try:
        acquired = lock.acquire()
    except redis.RedisError as error:
        logger.warning("customer lock unavailable (Redis: %s); going on", type(error).__name__)
        acquired = False
    else:
        if not acquired:
            logger.warning("customer lock of %s busy for %ss; going on", address, LOCK_WAIT_S)
    try:
        yield
    finally:
        if acquired:
            try:
                lock.release()
            except redis.RedisError:
                logger.warning("customer lock of %s expired before release", address)


class Reception:
    """Receives inbound messages for every restaurant (one per process).

    Parameters:
      sessions(sessionmaker): Write sessions.
      autocommit(Callable): Opens a connection whose statements commit one by one.
      inbox(Inbox): Decides what a message does (inside a transaction).
      messenger(Messenger): Sends the claimed outbox rows (2 s timeout on the request path).
      broker(Broker): Where jobs are enqueued.
      clock(Callable): The time a message is received at (the demo history injects one).
    """

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        autocommit: Callable[[], AbstractContextManager[Connection]],
        redis_client: redis.Redis,
        keys: Keys,
        inbox: Inbox,
        messenger: Messenger,
        broker: dramatiq.Broker,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.autocommit = autocommit
        self.redis = redis_client
        self.keys = keys
        self.inbox = inbox
        self.messenger = messenger
        self.broker = broker
        self.clock = clock

    def handle(self, tenant: Tenant, message: InboundMessage) -> Receipt:
        """Store and answer `message`; never raises for a send or enqueue failure."""
        with customer_lock(self.redis, self.keys, tenant.id, message.from_address):
            with self.sessions() as session:
                now = self.clock()
                try:
                    receipt = self.inbox.receive(session, tenant, message, now)
                except AllowanceRefused:
                    session.rollback()
                    receipt = self.inbox.receive_throttled(session, tenant, message, now)
                if receipt.status == "duplicate":
                    session.rollback()
                    return receipt
                session.commit()
            insight_events.written(len(receipt.events))
            self.deliver(receipt)
        return receipt

    def deliver(self, receipt: Receipt) -> None:
        """Send the receipt's outbox rows, enqueue its jobs, record both (one small write)."""
        if not receipt.to_send and not receipt.jobs:
            return
        attempts = outbox.send(self.messenger, receipt.to_send)
        enqueued = jobs.enqueue(self.broker, receipt.jobs)
        delay = self.settings.queue_backoff_delay_ms
        # Each outcome is its own UPDATE: no transaction needed (two round trips fewer),
        # unless a send failed for good: its row and its `delivery_failed` event commit
        # together.
        failed = any(attempt.failure is not None for attempt in attempts)
        connect = self.sessions.begin if failed else self.autocommit
        with connect() as connection:
            retry = outbox.record(
                connection, attempts, retry_delay_ms=delay, events=self.inbox.record_events
            )
            jobs.mark_enqueued(connection, enqueued)
        if retry:
            restaurant_of = {item.message_id: item.restaurant_id for item in receipt.to_send}
            deliveries = [(message_id, restaurant_of.get(message_id)) for message_id in retry]
            schedule_deliveries(self.broker, self.autocommit, deliveries, delay)


def schedule_deliveries(
    broker: dramatiq.Broker,
    connect: Callable[[], AbstractContextManager[Session | Connection]],
    deliveries: list[tuple[int, str | None]],
    delay_ms: int,
) -> None:
    """Enqueue retries of outbox rows (message id, restaurant id); rows whose enqueue
    fails are marked for the relay."""
    lost = [m for m, restaurant in deliveries if not _schedule(broker, m, restaurant, delay_ms)]
    if lost:
        logger.warning(
            "retry of outbound message(s) %s not enqueued; the relay will pick them up", lost
        )
        with connect() as db:
            outbox.mark_for_relay(db, lost)


def _schedule(
    broker: dramatiq.Broker, message_id: int, restaurant_id: str | None, delay_ms: int
) -> bool:
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=DELIVER_MESSAGE.queue,
        actor_name=DELIVER_MESSAGE.actor,
        args=(),
        kwargs={"message_id": message_id, "restaurant_id": restaurant_id},
        options={},
    )
    try:
        broker.enqueue(message, delay=delay_ms)
    except Exception as error:
        logger.debug("enqueue of delivery %s failed: %s", message_id, error)
        return False
    return True
