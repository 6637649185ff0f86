"""Factories and fixtures for the usage API: restaurants, credentials, counters, a frozen
clock and a statement counter. Data goes through the store's own functions."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from store import counters, credentials
from store.counters import UsagePeriod
from store.models import Restaurant
from store.restaurants import BotLimits, create_restaurant
from store.settings import Settings
from usage_api.clock import CLOCK

# A Monday afternoon in October 2025, UTC: far from any month boundary.
NOW = dt.datetime(2025, 10, 20, 15, 30, tzinfo=dt.UTC)

_numbers = itertools.count(1)


def add_restaurant(
    session: Session,
    settings: Settings,
    restaurant_id: str = "r1",
    *,
    timezone: str = "UTC",
    name: str | None = None,
    limits: BotLimits = BotLimits(),
) -> Restaurant:
    """Create a restaurant with bot config (a fresh WhatsApp number each time)."""
    return create_restaurant(
        session,
        settings,
        restaurant_id=restaurant_id,
        name=name or f"Restaurant {restaurant_id}",
        whatsapp_number=f"+9665{next(_numbers):08d}",
        merchant_id=f"merchant-{restaurant_id}",
        timezone=timezone,
        limits=limits,
    )


def owner_headers(session: Session, restaurant_id: str = "r1", **options: Any) -> dict[str, str]:
    """Mint a PAT for the restaurant and return the headers an owner sends."""
    options.setdefault("expires_in_days", None)
    minted = credentials.create_pat(session, restaurant_id=restaurant_id, **options)
    return {"Authorization": f"Bearer {minted.secret}", "X-Restaurant-Id": restaurant_id}


def admin_headers(session: Session) -> dict[str, str]:
    """Mint an admin API key and return the header an admin sends."""
    return {"X-API-Key": credentials.create_api_key(session, name="admin").secret}


def _period(session: Session, restaurant_id: str, at: dt.datetime) -> UsagePeriod:
    restaurant = session.get(Restaurant, restaurant_id)
    assert restaurant is not None
    return UsagePeriod.of(at, restaurant.timezone)


def open_conversation(session: Session, restaurant_id: str, at: dt.datetime) -> None:
    """Count what the webhook counts for a customer's first message: a conversation."""
    period = _period(session, restaurant_id, at)
    assert counters.take_daily_message(session, restaurant_id, period, 10**9)
    assert counters.record_month(
        session, restaurant_id, period, at, messages=1, opens_conversation=True
    )


def inbound_message(session: Session, restaurant_id: str, at: dt.datetime, count: int = 1) -> None:
    """Count `count` accepted inbound messages in an open conversation."""
    period = _period(session, restaurant_id, at)
    for _ in range(count):
        assert counters.take_daily_message(session, restaurant_id, period, 10**9)
    counters.record_month(session, restaurant_id, period, at, messages=count)


def outbound_message(session: Session, restaurant_id: str, at: dt.datetime) -> None:
    """Record an outbound message: activity only, no allowance used."""
    counters.record_month(session, restaurant_id, _period(session, restaurant_id, at), at)


@dataclass
class Clock:
    """A clock the app reads through `app.config[CLOCK]`; tests move it by hand."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(app: Flask) -> Clock:
    frozen = Clock(NOW)
    app.config[CLOCK] = frozen
    return frozen


@dataclass
class StatementLog:
    """SQL statements sent through an engine while it is recording."""

    statements: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.statements)

    def clear(self) -> None:
        self.statements.clear()

    def touching(self, table: str) -> list[str]:
        pattern = re.compile(rf"\b{re.escape(table)}\b", re.IGNORECASE)
        return [sql for sql in self.statements if pattern.search(sql)]


@pytest.fixture
def statements(engine: Engine) -> Iterator[StatementLog]:
    """Record every statement the engine executes (SQLAlchemy's before_cursor_execute)."""
    log = StatementLog()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield log
    event.remove(engine, "before_cursor_execute", record)
