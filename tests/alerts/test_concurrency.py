"""Each rule fires at most once per period, even when many processes cross it at the same
moment (SPEC §15). Every thread here has its own crossing detector (what a process has)
and its own database connection and transaction; on PostgreSQL they really run at once."""

from __future__ import annotations

from sqlalchemy import select

from alerts.crossing import Crossings
from alerts.models import AlertEvent, AlertFiring
from bot.allowances import MinuteAllowance
from bot.inbound import InboundMessage, Inbox
from bot.reception import Reception
from tests.support import factories
from tests.support.threads import at_once
from tests.support.twilio import new_sid

CUSTOMERS = 24


def process_like_reception(runtime):
    """A Reception with an inbox of its own, as each web process has."""
    inbox = Inbox(MinuteAllowance(runtime.redis, runtime.keys), runtime.catalog_peek, Crossings())
    return Reception(
        runtime.settings,
        runtime.sessions,
        runtime.autocommit,
        runtime.redis,
        runtime.keys,
        inbox,
        runtime.messenger,
        runtime.broker,
    )


def test_many_processes_crossing_a_threshold_at_once_fire_it_once(
    live_runtime, settings, fake_twilio
):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(
            session, settings, restaurant_id="r-race", daily_limit=10, monthly_limit=10
        )
    tenant = live_runtime.tenants.by_number(restaurant.whatsapp_number)
    receptions = [process_like_reception(live_runtime) for _ in range(CUSTOMERS)]

    def customer(n):
        message = InboundMessage(
            sid=new_sid(), from_address=f"+96655{n:07d}", to_number=tenant.whatsapp_number,
            body="hi",
        )  # fmt: skip
        return lambda: receptions[n].handle(tenant, message).status

    statuses = at_once([customer(n) for n in range(CUSTOMERS)])

    assert sorted(statuses) == ["received"] * 10 + ["throttled"] * (CUSTOMERS - 10)
    with live_runtime.read_transaction() as session:
        firings = session.execute(
            select(AlertFiring.metric, AlertFiring.threshold).order_by(
                AlertFiring.metric, AlertFiring.threshold
            )
        ).all()
        events = session.scalars(
            select(AlertEvent).where(AlertEvent.type == "usage.threshold_reached")
        ).all()
    assert [tuple(f) for f in firings] == [
        ("daily_messages", 80),
        ("daily_messages", 100),
        ("monthly_conversations", 80),
        ("monthly_conversations", 100),
    ]
    assert sorted((e.data["metric"], e.data["threshold"], e.data["used"]) for e in events) == [
        ("daily_messages", 80, 8),
        ("daily_messages", 100, 10),
        ("monthly_conversations", 80, 8),
        ("monthly_conversations", 100, 10),
    ]


def test_of_many_transactions_inserting_the_same_firing_exactly_one_wins(live_runtime, settings):
    from alerts.firings import record_firing
    from store.timeutil import utcnow

    with live_runtime.transaction() as session:
        factories.restaurant(session, settings, restaurant_id="r-firing")

    def fire(n):
        def run():
            with live_runtime.transaction() as session:
                return record_firing(
                    session, "r-firing", "daily_messages", 80, "2026-01-01", f"evt_{n}", utcnow()
                )

        return run

    results = at_once([fire(n) for n in range(16)])
    assert sorted(results) == [False] * 15 + [True]
