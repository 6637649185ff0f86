"""Durable usage counters, updated atomically with one upsert each (never `COUNT(*)`).

Each function is one `INSERT … ON CONFLICT DO UPDATE` statement. The allowance checks are
part of the statement (`… WHERE count < limit RETURNING …`), so two messages racing for
the last unit of an allowance cannot both get it, whatever the number of web processes.
Days and months are the restaurant's local calendar (its IANA timezone).

The statements are built once per dialect with bound parameters and run on the session's
connection: they sit on the webhook's hot path, where building and ORM-executing a fresh
statement costs several times more than the database round trip.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, literal_column
from sqlalchemy.orm import Session

from store.dialects import upsert_for
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


@dataclass(frozen=True)
class DayCounts:
    """A restaurant's counters of one local day, as the upsert that counted a message left them."""

    messages: int
    conversations: int


@cache
def _take_daily(dialect: str, opens_conversation: bool = False) -> Any:
    insert = upsert_for(dialect)(DailyUsage).values(
        restaurant_id=bindparam("restaurant_id"),
        date=bindparam("day"),
        message_count=1,
        conversation_count=1 if opens_conversation else 0,
    )
    updates: dict[str, Any] = {"message_count": DailyUsage.message_count + 1}
    if opens_conversation:
        updates["conversation_count"] = DailyUsage.conversation_count + literal_column("1")
    return insert.on_conflict_do_update(
        index_elements=[DailyUsage.restaurant_id, DailyUsage.date],
        set_=updates,
        where=DailyUsage.message_count < bindparam("limit"),
    ).returning(DailyUsage.message_count, DailyUsage.conversation_count)


@cache
def _record_month(dialect: str, opens_conversation: bool, limited: bool) -> Any:
    at = bindparam("at", type_=MonthlyUsage.last_message_at.type)
    insert = upsert_for(dialect)(MonthlyUsage).values(
        restaurant_id=bindparam("restaurant_id"),
        year=bindparam("year"),
        month=bindparam("month"),
        conversation_count=1 if opens_conversation else 0,
        message_count=bindparam("messages"),
        last_conversation_at=at if opens_conversation else None,
        first_message_at=at,
        last_message_at=at,
    )
    updates: dict[str, Any] = {
        "message_count": MonthlyUsage.message_count + insert.excluded.message_count,
        "first_message_at": case(
            (MonthlyUsage.first_message_at.is_(None), insert.excluded.first_message_at),
            (
                MonthlyUsage.first_message_at > insert.excluded.first_message_at,
                insert.excluded.first_message_at,
            ),
            else_=MonthlyUsage.first_message_at,
        ),
        "last_message_at": case(
            (MonthlyUsage.last_message_at.is_(None), insert.excluded.last_message_at),
            (
                MonthlyUsage.last_message_at < insert.excluded.last_message_at,
                insert.excluded.last_message_at,
            ),
            else_=MonthlyUsage.last_message_at,
        ),
    }
    if opens_conversation:
        updates["conversation_count"] = MonthlyUsage.conversation_count + literal_column("1")
        updates["last_conversation_at"] = insert.excluded.last_conversation_at
    where = MonthlyUsage.conversation_count < bindparam("limit") if limited else None
    return insert.on_conflict_do_update(
        index_elements=[MonthlyUsage.restaurant_id, MonthlyUsage.year, MonthlyUsage.month],
        set_=updates,
        where=where,
    ).returning(MonthlyUsage.conversation_count)


def take_daily_message(
    session: Session, restaurant_id: str, period: UsagePeriod, daily_limit: int
) -> bool:
    """Count one accepted inbound message today, unless the daily allowance is used up.

    Returns True when counted, False when the restaurant is at its daily limit (nothing
    is then written).
    """
    return count_daily_message(session, restaurant_id, period, daily_limit) is not None


def count_daily_message(
    session: Session,
    restaurant_id: str,
    period: UsagePeriod,
    daily_limit: int,
    *,
    opens_conversation: bool = False,
) -> DayCounts | None:
    """Count one accepted inbound message today (and the conversation it opens, if it does),
    unless the daily allowance is used up; return the day's counters after it, or None
    when refused (nothing is then written). Still one statement: the values come back
    with `RETURNING`.
    """
    if daily_limit <= 0:
        return None
    connection = session.connection()
    row = connection.execute(
        _take_daily(connection.dialect.name, opens_conversation),
        {"restaurant_id": restaurant_id, "day": period.day, "limit": daily_limit},
    ).first()
    return None if row is None else DayCounts(int(row[0]), int(row[1]))


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
    counted = count_month(
        session,
        restaurant_id,
        period,
        at,
        messages=messages,
        opens_conversation=opens_conversation,
        monthly_limit=monthly_limit,
    )
    return counted is not None


def count_month(
    session: Session,
    restaurant_id: str,
    period: UsagePeriod,
    at: dt.datetime,
    *,
    messages: int = 0,
    opens_conversation: bool = False,
    monthly_limit: int | None = None,
) -> int | None:
    """`record_month`, returning the month's conversation count after it (None: refused)."""
    limited = opens_conversation and monthly_limit is not None
    if limited and monthly_limit is not None and monthly_limit <= 0:
        return None
    connection = session.connection()
    statement = _record_month(connection.dialect.name, opens_conversation, limited)
    parameters: dict[str, Any] = {
        "restaurant_id": restaurant_id,
        "year": period.year,
        "month": period.month,
        "messages": messages,
        "at": at,
    }
    if limited:
        parameters["limit"] = monthly_limit
    row = connection.execute(statement, parameters).first()
    return None if row is None else int(row[0])
