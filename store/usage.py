"""The usage read model (SPEC §8): counters, allowances and activity of restaurants.

Everything is read from the counter tables (`monthly_usage`, `daily_usage`) by indexed
lookups, never by counting messages, and a request costs a fixed number of statements
whatever the page size or the amount of data: one for the restaurants (with their bot
config), one for their month rows, one for their day rows, one for their activity bounds
(plus one `COUNT` for a paginated list). Days and months are each restaurant's own
calendar, so the period keys are computed in Python once the restaurants are known.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from sqlalchemy import ColumnElement, and_, any_, bindparam, case, func, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from store.db import is_postgresql
from store.models import DailyUsage, MonthlyUsage, Restaurant, RestaurantBot
from store.settings import Settings
from store.timeutil import local_date, previous_months
from store.usage_values import Allowance, MonthUsage, RestaurantUsage

HISTORY_MONTHS = 6

# The usage object's fields (SPEC §8), in its order: what a list can be sorted by.
USAGE_FIELDS = (
    "restaurantId",
    "restaurantName",
    "conversationsThisMonth",
    "lastConversationAt",
    "dailyLimit",
    "dailyRemaining",
    "monthlyLimit",
    "monthlyRemaining",
    "firstActivity",
    "lastActivity",
    "isActive",
)


@dataclass(frozen=True)
class UsageOrder:
    """How a list of usages is sorted: by a field of the usage object, then by id.

    Raises:
      ValueError: For a field the usage object does not have.
    """

    field: str = "restaurantId"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.field not in USAGE_FIELDS:
            raise ValueError(f"sort must be one of {', '.join(USAGE_FIELDS)}")


@dataclass(frozen=True)
class UsagePage:
    """One page of every restaurant's usage and how many restaurants there are in all."""

    total: int
    items: list[RestaurantUsage]


@dataclass(frozen=True)
class _Tenant:
    id: str
    name: str
    timezone: str
    is_active: bool
    daily_limit: int | None
    monthly_limit: int | None
    bot_enabled: bool | None


@dataclass(frozen=True)
class _MonthCounters:
    conversation_count: int
    last_conversation_at: dt.datetime | None


# The restaurants with their bot config (NULL columns without one), labelled after
# _Tenant's fields. Selects are immutable: each query below derives its own from this one.
_TENANTS = select(
    Restaurant.id.label("id"),
    Restaurant.name.label("name"),
    Restaurant.timezone.label("timezone"),
    Restaurant.is_active.label("is_active"),
    RestaurantBot.max_messages_per_day.label("daily_limit"),
    RestaurantBot.max_conversations_per_month.label("monthly_limit"),
    RestaurantBot.enabled.label("bot_enabled"),
).outerjoin(RestaurantBot, RestaurantBot.restaurant_id == Restaurant.id)


def count_restaurants(session: Session) -> int:
    """Return the number of restaurants."""
    return int(session.scalar(select(func.count()).select_from(Restaurant)) or 0)


def usage_page(
    session: Session,
    settings: Settings,
    *,
    limit: int,
    offset: int,
    now: dt.datetime,
    order: UsageOrder = UsageOrder(),
    search: str | None = None,
) -> UsagePage:
    """Return the usage of `limit` restaurants from `offset`: in order of restaurant id,
    or of any field of the usage object (`order`), of those whose name, id or WhatsApp
    number contains `search` (case-insensitive)."""
    if order.field == "restaurantId" and not search:
        total = count_restaurants(session)
        if offset >= total:
            return UsagePage(total=total, items=[])
        # The page's ids first (an index-only scan of the primary key), then 100 joined
        # rows, rather than a join walked from the start of the table up to the offset.
        ordered = Restaurant.id.desc() if order.descending else Restaurant.id
        page_ids = select(Restaurant.id).order_by(ordered).limit(limit).offset(offset)
        query = _TENANTS.where(Restaurant.id.in_(page_ids.scalar_subquery())).order_by(ordered)
        tenants = [_Tenant(**row._mapping) for row in session.execute(query)]
    else:
        total, tenants = sorted_tenants(
            session, settings, order, search, limit=limit, offset=offset, now=now
        )
    usages = _usages(session, settings, tenants, now, history_months=1)
    return UsagePage(total=total, items=[usage for usage, _history in usages])


def sorted_tenants(
    session: Session,
    settings: Settings,
    order: UsageOrder,
    search: str | None,
    *,
    limit: int,
    offset: int,
    now: dt.datetime,
) -> tuple[int, list[_Tenant]]:
    """Return how many restaurants match `search` and one page of them in `order`.

    The order of every matching restaurant is computed in SQL — each one's own month and
    day, in its zone, as a CASE over the few zones in use — and kept for `ORDER_TTL_S` in
    this process (per field, direction, search and number of restaurants), so paging
    through thousands of restaurants sorts them once: the values shown are read afresh
    for every page, only their order may be a minute old. A page costs the number of
    restaurants, then on a miss the zones and the order, and the page's restaurants.
    """
    conditions = _matching(search)
    # Restaurants added or removed make a kept order stale: their number is in its key.
    everyone = count_restaurants(session)
    bind = session.get_bind()
    key = (str(bind.engine.url), order, search, everyone, now.date(), now.hour)
    with _ORDERS_LOCK:
        ids = _ORDERS.get(key)
    if ids is None:
        ids = _ordered_ids(session, settings, order, conditions, now)
        with _ORDERS_LOCK:
            _ORDERS[key] = ids
    total = len(ids)
    if offset >= total:
        return total, []
    page_ids = ids[offset : offset + limit]
    rows = session.execute(_TENANTS.where(Restaurant.id.in_(page_ids)))
    found = {row.id: _Tenant(**row._mapping) for row in rows}
    return total, [found[rid] for rid in page_ids if rid in found]


def clear_order_cache() -> None:
    """Forget the orders kept by `sorted_tenants` (tests)."""
    with _ORDERS_LOCK:
        _ORDERS.clear()


# How long a computed order of restaurants is reused by this process.
ORDER_TTL_S = 60
_ORDERS: TTLCache[Any, list[str]] = TTLCache(maxsize=32, ttl=ORDER_TTL_S)
_ORDERS_LOCK = threading.Lock()


def _ordered_ids(
    session: Session,
    settings: Settings,
    order: UsageOrder,
    conditions: list[ColumnElement[bool]],
    now: dt.datetime,
) -> list[str]:
    query = (
        select(Restaurant.id)
        .outerjoin(RestaurantBot, RestaurantBot.restaurant_id == Restaurant.id)
        .where(*conditions)
    )
    month = aliased(MonthlyUsage)
    day = aliased(DailyUsage)
    if order.field in _NEEDS_MONTH or order.field in _NEEDS_DAY:
        zones = list(session.scalars(select(Restaurant.timezone).distinct()))
        today = {zone: local_date(now, zone) for zone in zones}
        if order.field in _NEEDS_MONTH:
            query = query.outerjoin(
                month,
                and_(
                    month.restaurant_id == Restaurant.id,
                    month.year == _by_zone({z: d.year for z, d in today.items()}),
                    month.month == _by_zone({z: d.month for z, d in today.items()}),
                ),
            )
        if order.field in _NEEDS_DAY:
            query = query.outerjoin(
                day, and_(day.restaurant_id == Restaurant.id, day.date == _by_zone(today))
            )
    activity = None
    if order.field in ("firstActivity", "lastActivity"):
        # One grouped pass over the month rows, rather than two lookups per restaurant.
        activity = (
            select(
                MonthlyUsage.restaurant_id.label("restaurant_id"),
                func.min(MonthlyUsage.first_message_at).label("first"),
                func.max(MonthlyUsage.last_message_at).label("last"),
            )
            .group_by(MonthlyUsage.restaurant_id)
            .subquery()
        )
        query = query.outerjoin(activity, activity.c.restaurant_id == Restaurant.id)
    key = _sort_key(order.field, settings, month, day, activity)
    ordered = key.desc() if order.descending else key.asc()
    tie = Restaurant.id.desc() if order.descending else Restaurant.id.asc()
    return list(session.scalars(query.order_by(ordered.nulls_last(), tie)))


_NEEDS_MONTH = {"conversationsThisMonth", "lastConversationAt", "monthlyRemaining"}
_NEEDS_DAY = {"dailyRemaining"}


def _matching(search: str | None) -> list[ColumnElement[bool]]:
    needle = (search or "").strip().lower()
    if not needle:
        return []
    return [
        or_(
            func.lower(Restaurant.name).contains(needle, autoescape=True),
            func.lower(Restaurant.id).contains(needle, autoescape=True),
            Restaurant.whatsapp_number.contains(needle, autoescape=True),
        )
    ]


def _by_zone(values: dict[str, Any]) -> ColumnElement[Any]:
    return case(values, value=Restaurant.timezone)


def _not_negative(value: ColumnElement[int]) -> ColumnElement[int]:
    return case((value < 0, 0), else_=value)


def _sort_key(
    name: str, settings: Settings, month: Any, day: Any, activity: Any
) -> ColumnElement[Any]:
    daily_limit = func.coalesce(
        RestaurantBot.max_messages_per_day, settings.default_max_messages_per_day
    )
    monthly_limit = func.coalesce(
        RestaurantBot.max_conversations_per_month, settings.default_max_conversations_per_month
    )
    conversations = func.coalesce(month.conversation_count, 0)
    keys: dict[str, Callable[[], Any]] = {
        "restaurantId": lambda: Restaurant.id,
        "restaurantName": lambda: Restaurant.name,
        "conversationsThisMonth": lambda: conversations,
        "lastConversationAt": lambda: month.last_conversation_at,
        "dailyLimit": lambda: daily_limit,
        "dailyRemaining": lambda: _not_negative(daily_limit - func.coalesce(day.message_count, 0)),
        "monthlyLimit": lambda: monthly_limit,
        "monthlyRemaining": lambda: _not_negative(monthly_limit - conversations),
        "firstActivity": lambda: activity.c.first,
        "lastActivity": lambda: activity.c.last,
        "isActive": lambda: case(
            (and_(Restaurant.is_active, func.coalesce(RestaurantBot.enabled, true())), 1),
            else_=0,
        ),
    }
    return keys[name]()


def restaurant_usage(
    session: Session, settings: Settings, restaurant_id: str, *, now: dt.datetime
) -> RestaurantUsage | None:
    """Return one restaurant's usage, or None when there is no such restaurant."""
    found = usage_with_history(session, settings, restaurant_id, now=now, months=1)
    return None if found is None else found[0]


def usage_with_history(
    session: Session,
    settings: Settings,
    restaurant_id: str,
    *,
    now: dt.datetime,
    months: int = HISTORY_MONTHS,
) -> tuple[RestaurantUsage, list[MonthUsage]] | None:
    """Return a restaurant's usage and its last `months` calendar months, newest first.

    Months without conversations are included with zeros. Returns None when there is no
    such restaurant.
    """
    row = session.execute(_TENANTS.where(Restaurant.id == restaurant_id)).first()
    if row is None:
        return None
    [result] = _usages(session, settings, [_Tenant(**row._mapping)], now, history_months=months)
    return result


def _usages(
    session: Session,
    settings: Settings,
    tenants: Sequence[_Tenant],
    now: dt.datetime,
    *,
    history_months: int,
) -> list[tuple[RestaurantUsage, list[MonthUsage]]]:
    if not tenants:
        return []
    today = {tenant.id: local_date(now, tenant.timezone) for tenant in tenants}
    months = {
        tenant.id: previous_months(today[tenant.id].year, today[tenant.id].month, history_months)
        for tenant in tenants
    }
    month_rows = _month_counters(session, months)
    day_counts = _day_counts(session, today)
    bounds = _activity_bounds(session, [tenant.id for tenant in tenants])

    results = []
    empty = _MonthCounters(conversation_count=0, last_conversation_at=None)
    for tenant in tenants:
        history = [
            MonthUsage(year, month, counters.conversation_count, counters.last_conversation_at)
            for year, month in months[tenant.id]
            for counters in [month_rows.get((tenant.id, year, month), empty)]
        ]
        this_month = history[0]
        daily_limit = _or(tenant.daily_limit, settings.default_max_messages_per_day)
        monthly_limit = _or(tenant.monthly_limit, settings.default_max_conversations_per_month)
        first_activity, last_activity = bounds.get(tenant.id, (None, None))
        usage = RestaurantUsage(
            restaurant_id=tenant.id,
            restaurant_name=tenant.name,
            conversations_this_month=this_month.conversation_count,
            last_conversation_at=this_month.last_conversation_at,
            allowance=Allowance(
                daily_limit=daily_limit,
                daily_remaining=max(0, daily_limit - day_counts.get(tenant.id, 0)),
                monthly_limit=monthly_limit,
                monthly_remaining=max(0, monthly_limit - this_month.conversation_count),
            ),
            first_activity=first_activity,
            last_activity=last_activity,
            # No bot config means the defaults, and an enabled bot.
            is_active=tenant.is_active and tenant.bot_enabled is not False,
        )
        results.append((usage, history))
    return results


def _month_counters(
    session: Session, months: dict[str, list[tuple[int, int]]]
) -> dict[tuple[str, int, int], _MonthCounters]:
    # One index range per restaurant on the unique (restaurant_id, year, month): the
    # restaurants' ids and the span of months any of them needs. Zones put restaurants at
    # most a month apart, so the few rows of a neighbouring month are dropped here.
    wanted = {(tenant_id, *key) for tenant_id, keys in months.items() for key in keys}
    every_month = [key for keys in months.values() for key in keys]
    year_month = tuple_(MonthlyUsage.year, MonthlyUsage.month)
    query = select(
        MonthlyUsage.restaurant_id,
        MonthlyUsage.year,
        MonthlyUsage.month,
        MonthlyUsage.conversation_count,
        MonthlyUsage.last_conversation_at,
    ).where(
        _one_of(session, MonthlyUsage.restaurant_id, list(months)),
        year_month >= tuple_(*min(every_month)),
        year_month <= tuple_(*max(every_month)),
    )
    found = {}
    for restaurant_id, year, month, count, last_conversation_at in session.execute(query):
        if (restaurant_id, year, month) in wanted:
            found[restaurant_id, year, month] = _MonthCounters(count, last_conversation_at)
    return found


def _day_counts(session: Session, today: dict[str, dt.date]) -> dict[str, int]:
    # The same on the unique (restaurant_id, date): zones put "today" at most a day apart.
    query = select(DailyUsage.restaurant_id, DailyUsage.date, DailyUsage.message_count).where(
        _one_of(session, DailyUsage.restaurant_id, list(today)),
        DailyUsage.date.between(min(today.values()), max(today.values())),
    )
    return {
        restaurant_id: count
        for restaurant_id, day, count in session.execute(query)
        if today[restaurant_id] == day
    }


def _activity_bounds(
    session: Session, restaurant_ids: list[str]
) -> dict[str, tuple[dt.datetime | None, dt.datetime | None]]:
    # One row per restaurant and month: the aggregate reads a handful of rows per
    # restaurant through the unique index, however many messages there were.
    query = (
        select(
            MonthlyUsage.restaurant_id,
            func.min(MonthlyUsage.first_message_at),
            func.max(MonthlyUsage.last_message_at),
        )
        .where(_one_of(session, MonthlyUsage.restaurant_id, restaurant_ids))
        .group_by(MonthlyUsage.restaurant_id)
    )
    return {restaurant_id: (first, last) for restaurant_id, first, last in session.execute(query)}


def _one_of(
    session: Session, column: InstrumentedAttribute[str], values: list[str]
) -> ColumnElement[bool]:
    # `column IN (…)` renders one placeholder per value, which SQLAlchemy and psycopg
    # process again on every call (a third of a page's time); PostgreSQL takes the whole
    # list as one array parameter instead.
    if is_postgresql(session):
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value
