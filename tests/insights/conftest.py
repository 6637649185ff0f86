"""What the insights tests share: a restaurant with the demo menu, a customer who writes,
the events and aggregates as stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from insights.models import ConversationEvent, HourlyInsight, HourlyInsightKey, HourlyText
from tests.support import factories
from tests.support.twilio import inbound_form, post_signed

CUSTOMER = "+966511111111"
MERCHANT = "demo-merchant"


@pytest.fixture
def restaurant(db_session, settings):
    return factories.restaurant(db_session, settings, merchant_id=MERCHANT)


def say(client: Any, settings: Any, restaurant: Any, text: str, sender: str = CUSTOMER, **extra):
    """Post a signed inbound message; return its form."""
    form = inbound_form(to=restaurant.whatsapp_number, sender=sender, body=text, **extra)
    response = post_signed(client, settings.twilio_auth_token, form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return form


def warm(runtime: Runtime, merchant: str = MERCHANT) -> list[dict[str, Any]]:
    """Load the merchant's menu, branches and every category's products into the cache."""
    categories = runtime.catalog.categories(merchant)
    runtime.catalog.branches(merchant)
    for category in categories:
        runtime.catalog.products(merchant, str(category["id"]))
    return categories


def stored_events(session: Session, restaurant_id: str | None = None) -> list[ConversationEvent]:
    """Return the stored events, oldest first."""
    query = select(ConversationEvent).order_by(ConversationEvent.id)
    if restaurant_id is not None:
        query = query.where(ConversationEvent.restaurant_id == restaurant_id)
    session.expire_all()
    return list(session.scalars(query).all())


def kinds(session: Session, restaurant_id: str | None = None) -> list[str]:
    return [e.kind for e in stored_events(session, restaurant_id)]


def aggregates(session: Session, restaurant_id: str) -> dict[str, Any]:
    """Return every aggregate row of a restaurant, comparable across folds."""
    session.expire_all()
    hourly = {
        row.hour: {
            c.key: getattr(row, c.key)
            for c in HourlyInsight.__table__.columns
            if c.key not in ("restaurant_id", "hour")
        }
        for row in session.scalars(
            select(HourlyInsight).where(HourlyInsight.restaurant_id == restaurant_id)
        )
    }
    keys = {
        (r.hour, r.dimension, r.key): r.count
        for r in session.scalars(
            select(HourlyInsightKey).where(HourlyInsightKey.restaurant_id == restaurant_id)
        )
    }
    texts = {
        (r.hour, r.text): r.count
        for r in session.scalars(
            select(HourlyText).where(HourlyText.restaurant_id == restaurant_id)
        )
    }
    return {"hourly": hourly, "keys": keys, "texts": texts}


def total(session: Session, restaurant_id: str, measure: str) -> int:
    """Return one measure summed over every hour."""
    return sum(row[measure] for row in aggregates(session, restaurant_id)["hourly"].values())


def hours_ago(now: dt.datetime, hours: float) -> dt.datetime:
    return now - dt.timedelta(hours=hours)


def add_events(
    session: Session,
    restaurant_id: str,
    specs: list[tuple[str, dt.datetime] | tuple[str, dt.datetime, int | None]]
    | list[tuple[str, dt.datetime, int | None, dict[str, Any] | None]],
    *,
    customer_id: int | None = 1,
) -> None:
    """Write events as the webhook would: (kind, when[, conversation id[, detail]])."""
    from insights.events import Event, write

    rows = []
    for spec in specs:
        kind, at = spec[0], spec[1]
        conversation_id = spec[2] if len(spec) > 2 else 1  # type: ignore[misc]
        detail = spec[3] if len(spec) > 3 else None  # type: ignore[misc]
        rows.append(Event(restaurant_id, customer_id, conversation_id, kind, at, detail))
    write(session.connection(), rows)


def messages(session: Session, restaurant_id: str, count: int, at: dt.datetime) -> None:
    """Write `count` `message_in` events at `at`."""
    add_events(session, restaurant_id, [("message_in", at)] * count)
