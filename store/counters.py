"""Durable usage counters, updated atomically with one upsert each (never `COUNT(*)`).

Each function is one `INSERT … ON CONFLICT DO UPDATE` statement. The allowance checks are
part of the statement (`… WHERE count < limit RETURNING …`), so two messages racing for
the last unit of an allowance cannot both get it, whatever the number of web processes.
Days and months are the restaurant's local calendar (its IANA timezone).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.models import DailyUsage, MonthlyUsage
from store.timeutil import local_date


@dataclass(frozen=True)
class UsagePeriod:
    """The restaurant-local day and month that a moment falls in."""

    day: dt.date
    year: int
    month: int

    @classmethod
    def of(cls, moment: dt.datetime, timezone: str) -> UsagePeriod:
        day = local_date(moment, timezone)
        return cls(day=day, year=day.year, month=day.month)


def _insert(session: Session, model: type[DailyUsage] | type[MonthlyUsage]) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def take_daily_message(
    session: Session, restaurant_id: str, period: UsagePeriod, daily_limit: int
) -> bool:
    """Count one accepted inbound message today, unless the daily allowance is used up.

    Returns True when counted, False when the restaurant is at its daily limit (nothing
    is then written).
    """
    if daily_limit <= 0:
        return False
    insert = _insert(session, DailyUsage).values(
        restaurant_id=restaurant_id, date=period.day, message_count=1
    )
    statement = insert.on_conflict_do_update(
        index_elements=[DailyUsage.restaurant_id, DailyUsage.date],
        set_={"message_count": DailyUsage.message_count + 1},
        where=DailyUsage.message_count < daily_limit,
    ).returning(DailyUsage.message_count)
    return session.execute(statement).first() is not None


def release_daily_message(session: Session, restaurant_id: str, period: UsagePeriod) -> None:
    """Undo `take_daily_message` (a later allowance refused the same message)."""
    session.query(DailyUsage).filter(
        DailyUsage.restaurant_id == restaurant_id, DailyUsage.date == period.day
    ).update({DailyUsage.message_count: DailyUsage.message_count - 1})


def record_month(
    session: Session,
    restaurant_id: str,
    period: UsagePeriod,
    at: dt.datetime,
    *,
    messages: int = 0,
    opens_conversation: bool = False,
    monthly_limit: int | None = None,
) -> bool:
    """Add to this month's counters and move its activity bounds to include `at`.

    `messages` accepted inbound messages are counted; `opens_conversation` counts a new
    conversation, refused (False, nothing written) when the month already has
    `monthly_limit` conversations. With neither, only the activity bounds move (any
    stored message, either direction, counts as activity).
    """
    new_conversations = 1 if opens_conversation else 0
    if opens_conversation and monthly_limit is not None and monthly_limit <= 0:
        return False
    values = {
        "restaurant_id": restaurant_id,
        "year": period.year,
        "month": period.month,
        "conversation_count": new_conversations,
        "message_count": messages,
        "last_conversation_at": at if opens_conversation else None,
        "first_message_at": at,
        "last_message_at": at,
    }
    table = MonthlyUsage.__table__
    updates: dict[str, Any] = {
        "conversation_count": MonthlyUsage.conversation_count + new_conversations,
        "message_count": MonthlyUsage.message_count + messages,
        "first_message_at": case(
            (MonthlyUsage.first_message_at.is_(None), at),
            (MonthlyUsage.first_message_at > at, at),
            else_=MonthlyUsage.first_message_at,
        ),
        "last_message_at": case(
            (MonthlyUsage.last_message_at.is_(None), at),
            (MonthlyUsage.last_message_at < at, at),
            else_=MonthlyUsage.last_message_at,
        ),
    }
    if opens_conversation:
        updates["last_conversation_at"] = at
    insert = _insert(session, MonthlyUsage).values(**values)
    where = None
    if opens_conversation and monthly_limit is not None:
        where = table.c.conversation_count < monthly_limit
    statement = insert.on_conflict_do_update(
        index_elements=[MonthlyUsage.restaurant_id, MonthlyUsage.year, MonthlyUsage.month],
        set_=updates,
        where=where,
    ).returning(MonthlyUsage.id)
    return session.execute(statement).first() is not None
