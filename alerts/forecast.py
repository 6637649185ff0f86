"""The pace of SPEC §15: where this month and today are heading at the recent rate.

Computed from counters only: conversations per local day (`daily_usage`), this month's
conversations and today's accepted messages. The formulas are the spec's "Exact rules";
rates are rounded to two decimals first, and the projections use the rounded rates, so
anyone can recompute them from the numbers the API shows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import DailyUsage, Restaurant
from store.timeutil import iso_z, local_date, zone
from store.usage_values import RestaurantUsage

RATE_DAYS = 7
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Forecast:
    """The `forecast` object of a usage answer."""

    daily_conversation_rate: Decimal
    projected_month_conversations: int
    monthly_limit_reached_on: dt.date | None
    daily_messages_rate: Decimal
    daily_limit_reached_at: dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "dailyConversationRate": float(self.daily_conversation_rate),
            "projectedMonthConversations": self.projected_month_conversations,
            "monthlyLimitReachedOn": (
                self.monthly_limit_reached_on.isoformat() if self.monthly_limit_reached_on else None
            ),
            "dailyMessagesRate": float(self.daily_messages_rate),
            "dailyLimitReachedAt": iso_z(self.daily_limit_reached_at),
        }


def _two_decimals(value: Decimal) -> Decimal:
    return value.quantize(CENTS, rounding=ROUND_HALF_EVEN)


def last_day_of_month(day: dt.date) -> dt.date:
    """Return the last day of `day`'s month."""
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def rate_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """Return the first and last of the 7 complete local days before `today`."""
    return today - dt.timedelta(days=RATE_DAYS), today - dt.timedelta(days=1)


def month_pace(
    *,
    conversations_last_7_days: int,
    conversations_this_month: int,
    monthly_limit: int,
    today: dt.date,
) -> tuple[Decimal, int, dt.date | None]:
    """Return (daily rate, projected month total, date the monthly limit is reached)."""
    rate = _two_decimals(Decimal(conversations_last_7_days) / RATE_DAYS)
    month_end = last_day_of_month(today)
    days_left = (month_end - today).days
    projected = math.floor(Decimal(conversations_this_month) + rate * days_left)
    if conversations_this_month >= monthly_limit:
        reached: dt.date | None = today
    elif rate <= 0:
        reached = None
    else:
        days = math.ceil((Decimal(monthly_limit) - conversations_this_month) / rate)
        candidate = today + dt.timedelta(days=days)
        reached = candidate if candidate <= month_end else None
    return rate, projected, reached


def day_pace(
    *, messages_today: int, daily_limit: int, now: dt.datetime, timezone: str
) -> tuple[Decimal, dt.datetime | None]:
    """Return (messages per hour today, when the daily limit is reached at that rate)."""
    local_now = now.astimezone(zone(timezone))
    midnight = dt.datetime.combine(local_now.date(), dt.time(), tzinfo=zone(timezone))
    next_midnight = dt.datetime.combine(
        local_now.date() + dt.timedelta(days=1), dt.time(), tzinfo=zone(timezone)
    )
    hours = max(Decimal(1), Decimal((now - midnight).total_seconds()) / 3600)
    rate = _two_decimals(Decimal(messages_today) / hours)
    if messages_today >= daily_limit:
        return rate, now
    if rate <= 0:
        return rate, None
    hours_to_limit = (Decimal(daily_limit) - messages_today) / rate
    seconds = float(hours_to_limit * 3600)
    if seconds >= (next_midnight - now).total_seconds():
        return rate, None
    return rate, now + dt.timedelta(seconds=seconds)


def forecast(
    *,
    now: dt.datetime,
    timezone: str,
    conversations_last_7_days: int,
    conversations_this_month: int,
    monthly_limit: int,
    messages_today: int,
    daily_limit: int,
) -> Forecast:
    """Return the forecast of one restaurant from its counters."""
    today = local_date(now, timezone)
    rate, projected, reached = month_pace(
        conversations_last_7_days=conversations_last_7_days,
        conversations_this_month=conversations_this_month,
        monthly_limit=monthly_limit,
        today=today,
    )
    messages_rate, reached_at = day_pace(
        messages_today=messages_today, daily_limit=daily_limit, now=now, timezone=timezone
    )
    return Forecast(rate, projected, reached, messages_rate, reached_at)


@dataclass(frozen=True)
class ZonedForecast:
    """A restaurant's forecast and the zone its days and times are in."""

    timezone: str
    forecast: Forecast


def usage_forecasts(
    session: Session, items: Sequence[RestaurantUsage], now: dt.datetime
) -> dict[str, ZonedForecast]:
    """Return the forecast of each of these usages in two statements, whatever their
    number (`GET /api/usage?include=forecast` and the owner's Usage page)."""
    figures = daily_figures(session, [item.restaurant_id for item in items], now)
    found: dict[str, ZonedForecast] = {}
    for item in items:
        daily = figures[item.restaurant_id]
        found[item.restaurant_id] = ZonedForecast(
            daily.timezone,
            forecast(
                now=now,
                timezone=daily.timezone,
                conversations_last_7_days=daily.conversations_last_7_days,
                conversations_this_month=item.conversations_this_month,
                monthly_limit=item.allowance.monthly_limit,
                messages_today=daily.messages_today,
                daily_limit=item.allowance.daily_limit,
            ),
        )
    return found


@dataclass(frozen=True)
class DailyFigures:
    """What the forecast needs from `daily_usage`: the 7-day conversations, today's messages."""

    timezone: str
    conversations_last_7_days: int
    messages_today: int


def daily_figures(
    session: Session, restaurant_ids: Sequence[str], now: dt.datetime
) -> dict[str, DailyFigures]:
    """Return each restaurant's daily figures in two statements, whatever their number."""
    if not restaurant_ids:
        return {}
    zones = dict(
        session.execute(
            select(Restaurant.id, Restaurant.timezone).where(
                Restaurant.id.in_(list(restaurant_ids))
            )
        ).all()
    )
    today = {rid: local_date(now, tz) for rid, tz in zones.items()}
    if not today:
        return {}
    first = min(today.values()) - dt.timedelta(days=RATE_DAYS)
    rows = session.execute(
        select(
            DailyUsage.restaurant_id,
            DailyUsage.date,
            DailyUsage.message_count,
            DailyUsage.conversation_count,
        ).where(
            DailyUsage.restaurant_id.in_(list(today)),
            DailyUsage.date.between(first, max(today.values())),
        )
    ).all()
    return _figures(zones, today, rows)


def _figures(
    zones: dict[str, str], today: dict[str, dt.date], rows: Iterable[Any]
) -> dict[str, DailyFigures]:
    conversations = dict.fromkeys(today, 0)
    messages = dict.fromkeys(today, 0)
    for restaurant_id, day, message_count, conversation_count in rows:
        start, end = rate_window(today[restaurant_id])
        if start <= day <= end:
            conversations[restaurant_id] += conversation_count
        elif day == today[restaurant_id]:
            messages[restaurant_id] = message_count
    return {rid: DailyFigures(zones[rid], conversations[rid], messages[rid]) for rid in today}


def conversations_last_7_days(session: Session, restaurant_id: str, today: dt.date) -> int:
    """Return the conversations a restaurant opened in the 7 complete days before `today`."""
    start, end = rate_window(today)
    return int(
        session.scalar(
            select(func.coalesce(func.sum(DailyUsage.conversation_count), 0)).where(
                DailyUsage.restaurant_id == restaurant_id, DailyUsage.date.between(start, end)
            )
        )
        or 0
    )
