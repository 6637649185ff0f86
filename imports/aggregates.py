"""Order aggregates per restaurant and UTC hour (and UTC day), rebuilt from stored orders.

Each day of an import, once its last page is stored, rebuilds the aggregate rows of every
hour the day touches — and of every UTC day those hours touch, whole — from the orders
stored for them: all of them, whichever import stored them (an hour or a day two chunks
share is rebuilt by both; the later sees both chunks' orders). Rebuilding is idempotent: a
rerun, a replay from the dead letters or two imports of overlapping periods leave the same
rows, never a sum counted twice. Rebuilds of one restaurant run one at a time: the caller
locks the restaurant first (`imports.locks`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, text

from imports.models import (
    Order,
    OrderBranchDay,
    OrderBranchHour,
    OrderCustomerDay,
    OrderCustomerHour,
    OrderHour,
    OrderItemDay,
    OrderItemHour,
)
from store.periods import HOUR, utc_hour

DAY = dt.timedelta(days=1)
_HOURLY = (OrderHour, OrderItemHour, OrderBranchHour, OrderCustomerHour)
_DAILY = (OrderItemDay, OrderBranchDay, OrderCustomerDay)


def hours_of(since: dt.datetime, until: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC hours `[first, end)` that hold the moments `[since, until)`."""
    return utc_hour(since), utc_hour(until - dt.timedelta(microseconds=1)) + HOUR


def hour_spans(
    periods: Iterable[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Return the UTC hours that hold the moments of `periods` (each `[since, until)`), as
    few `[first, end)` spans as possible."""
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for first, end in sorted(hours_of(since, until) for since, until in periods):
        if spans and first <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((first, end))
    return spans


def midnight(day: dt.date) -> dt.datetime:
    """Return the start of UTC day `day`."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def rebuild(
    connection: Connection, restaurant_id: str, first: dt.datetime, end: dt.datetime
) -> None:
    """Rebuild the restaurant's order aggregates of the UTC hours `[first, end)` and of the
    UTC days they touch."""
    _rebuild_hours(connection, restaurant_id, first, end)
    first_day = first.astimezone(dt.UTC).date()
    end_day = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date() + DAY
    _rebuild_days(connection, restaurant_id, first_day, end_day)


def _orders_between(restaurant_id: str, start: dt.datetime, end: dt.datetime) -> tuple[Any, ...]:
    # By `created_at` (indexed with the restaurant): hours and days are whole, so these are
    # the orders whose `hour` / `day` fall in the range.
    return (Order.restaurant_id == restaurant_id, Order.created_at >= start, Order.created_at < end)


def _rebuild_hours(
    connection: Connection, restaurant_id: str, first: dt.datetime, end: dt.datetime
) -> None:
    for table in _HOURLY:
        connection.execute(
            delete(table).where(
                table.restaurant_id == restaurant_id, table.hour >= first, table.hour < end
            )
        )
    in_range = _orders_between(restaurant_id, first, end)
    connection.execute(
        insert(OrderHour).from_select(
            ["restaurant_id", "hour", "currency", "orders", "revenue_minor"],
            select(
                Order.restaurant_id,
                Order.hour,
                Order.currency,
                func.count(),
                func.sum(Order.total_minor),
            )
            .where(*in_range)
            .group_by(Order.restaurant_id, Order.hour, Order.currency),
        )
    )
    for table, key, condition in (
        (OrderBranchHour, Order.branch_id, None),
        (OrderCustomerHour, Order.customer_ref, Order.customer_ref.is_not(None)),
    ):
        conditions = [*in_range] + ([condition] if condition is not None else [])
        connection.execute(
            insert(table).from_select(
                ["restaurant_id", "hour", key.key, "orders"],
                select(Order.restaurant_id, Order.hour, key, func.count())
                .where(*conditions)
                .group_by(Order.restaurant_id, Order.hour, key),
            )
        )
    _items(connection, "hour", restaurant_id, first, end)


def _rebuild_days(connection: Connection, restaurant_id: str, first: dt.date, end: dt.date) -> None:
    for table in _DAILY:
        connection.execute(
            delete(table).where(
                table.restaurant_id == restaurant_id, table.day >= first, table.day < end
            )
        )
    in_range = _orders_between(restaurant_id, midnight(first), midnight(end))
    for table, key, condition in (
        (OrderBranchDay, Order.branch_id, None),
        (OrderCustomerDay, Order.customer_ref, Order.customer_ref.is_not(None)),
    ):
        conditions = [*in_range] + ([condition] if condition is not None else [])
        connection.execute(
            insert(table).from_select(
                ["restaurant_id", "day", key.key, "orders"],
                select(Order.restaurant_id, Order.day, key, func.count())
                .where(*conditions)
                .group_by(Order.restaurant_id, Order.day, key),
            )
        )
    _items(connection, "day", restaurant_id, midnight(first), midnight(end))


# Items are a JSON list on each order, `[product id, name, quantity, unit price]`: summed in
# SQL over the list's elements, JSON functions being the one thing the two databases spell
# differently. Integers throughout, so sums are exact on both.
_ITEMS_SQL = {
    "sqlite": """
        INSERT INTO order_item_{unit}s
            (restaurant_id, {unit}, product_id, currency, quantity, revenue_minor)
        SELECT o.restaurant_id, o.{unit}, json_extract(line.value, '$[0]'), o.currency,
               sum(json_extract(line.value, '$[2]')),
               sum(json_extract(line.value, '$[2]') * json_extract(line.value, '$[3]'))
        FROM orders AS o, json_each(o.items) AS line
        WHERE o.restaurant_id = :restaurant AND o.created_at >= :start AND o.created_at < :end
        GROUP BY o.restaurant_id, o.{unit}, json_extract(line.value, '$[0]'), o.currency
    """,
    "postgresql": """
        INSERT INTO order_item_{unit}s
            (restaurant_id, {unit}, product_id, currency, quantity, revenue_minor)
        SELECT o.restaurant_id, o.{unit}, line.value ->> 0, o.currency,
               sum((line.value ->> 2)::bigint),
               sum((line.value ->> 2)::bigint * (line.value ->> 3)::bigint)
        FROM orders AS o, json_array_elements(o.items) AS line(value)
        WHERE o.restaurant_id = :restaurant AND o.created_at >= :start AND o.created_at < :end
        GROUP BY o.restaurant_id, o.{unit}, line.value ->> 0, o.currency
    """,
}


def _items(
    connection: Connection, unit: str, restaurant_id: str, start: dt.datetime, end: dt.datetime
) -> None:
    sql = _ITEMS_SQL[connection.dialect.name].format(unit=unit)
    statement = text(sql).bindparams(
        bindparam("start", type_=Order.created_at.type),
        bindparam("end", type_=Order.created_at.type),
    )
    connection.execute(statement, {"restaurant": restaurant_id, "start": start, "end": end})
