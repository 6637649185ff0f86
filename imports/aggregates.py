"""Order aggregates per restaurant and UTC hour, rebuilt from the stored orders.

Each day of an import, once its last page is stored, rebuilds the aggregate rows of every
hour the day touches from the orders stored for those hours — all of them, whichever
import stored them (an hour two days share is rebuilt by both; the later sees both
days' orders). Rebuilding is
idempotent: a rerun, a replay from the dead letters or two imports of overlapping periods
leave the same rows, never a sum counted twice. Rebuilds of one restaurant run one at a
time: the caller locks the restaurant first (`imports.locks`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session

from imports.models import (
    Order,
    OrderBranchHour,
    OrderCustomerHour,
    OrderHour,
    OrderItemHour,
)
from store.periods import HOUR, utc_hour

_TABLES = (OrderHour, OrderItemHour, OrderBranchHour, OrderCustomerHour)


def hours_of(since: dt.datetime, until: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC hours `[first, end)` that hold the moments `[since, until)`."""
    return utc_hour(since), utc_hour(until - dt.timedelta(microseconds=1)) + HOUR


def rebuild(session: Session, restaurant_id: str, first: dt.datetime, end: dt.datetime) -> None:
    """Rebuild the restaurant's order aggregates of the UTC hours `[first, end)`."""
    connection = session.connection()
    for table in _TABLES:
        connection.execute(
            delete(table).where(
                table.restaurant_id == restaurant_id, table.hour >= first, table.hour < end
            )
        )
    # By `created_at` (indexed with the restaurant): the same orders as by `hour`, since
    # `first` and `end` are whole hours.
    in_range = (
        Order.restaurant_id == restaurant_id,
        Order.created_at >= first,
        Order.created_at < end,
    )
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
    connection.execute(
        insert(OrderBranchHour).from_select(
            ["restaurant_id", "hour", "branch_id", "orders"],
            select(Order.restaurant_id, Order.hour, Order.branch_id, func.count())
            .where(*in_range)
            .group_by(Order.restaurant_id, Order.hour, Order.branch_id),
        )
    )
    connection.execute(
        insert(OrderCustomerHour).from_select(
            ["restaurant_id", "hour", "customer_ref", "orders"],
            select(Order.restaurant_id, Order.hour, Order.customer_ref, func.count())
            .where(*in_range, Order.customer_ref.is_not(None))
            .group_by(Order.restaurant_id, Order.hour, Order.customer_ref),
        )
    )
    _rebuild_items(session, restaurant_id, first, end)


# Items are a JSON list on each order, `[product id, name, quantity, unit price]`: summed in
# SQL over the list's elements, JSON functions being the one thing the two databases spell
# differently. Integers throughout, so sums are exact on both.
_ITEMS_SQL = {
    "sqlite": """
        INSERT INTO order_item_hours
            (restaurant_id, hour, product_id, currency, name, quantity, revenue_minor)
        SELECT o.restaurant_id, o.hour, json_extract(line.value, '$[0]'), o.currency,
               max(json_extract(line.value, '$[1]')),
               sum(json_extract(line.value, '$[2]')),
               sum(json_extract(line.value, '$[2]') * json_extract(line.value, '$[3]'))
        FROM orders AS o, json_each(o.items) AS line
        WHERE o.restaurant_id = :restaurant AND o.created_at >= :first AND o.created_at < :end
        GROUP BY o.restaurant_id, o.hour, json_extract(line.value, '$[0]'), o.currency
    """,
    "postgresql": """
        INSERT INTO order_item_hours
            (restaurant_id, hour, product_id, currency, name, quantity, revenue_minor)
        SELECT o.restaurant_id, o.hour, line.value ->> 0, o.currency,
               max((line.value ->> 1) COLLATE "C"),
               sum((line.value ->> 2)::bigint),
               sum((line.value ->> 2)::bigint * (line.value ->> 3)::bigint)
        FROM orders AS o, json_array_elements(o.items) AS line(value)
        WHERE o.restaurant_id = :restaurant AND o.created_at >= :first AND o.created_at < :end
        GROUP BY o.restaurant_id, o.hour, line.value ->> 0, o.currency
    """,
}


def _rebuild_items(
    session: Session, restaurant_id: str, first: dt.datetime, end: dt.datetime
) -> None:
    connection = session.connection()
    statement = text(_ITEMS_SQL[connection.dialect.name]).bindparams(
        bindparam("first", type_=Order.created_at.type),
        bindparam("end", type_=Order.created_at.type),
    )
    connection.execute(statement, {"restaurant": restaurant_id, "first": first, "end": end})
