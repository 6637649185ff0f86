"""Order aggregates per restaurant and UTC hour, rebuilt from the stored orders.

An import ends by rebuilding the aggregate rows of every hour its period touches from the
orders stored for those hours — all of them, whichever import stored them. Rebuilding is
idempotent: a rerun, a replay from the dead letters or two imports of overlapping periods
leave the same rows, never a sum counted twice. Rebuilds of one restaurant run one at a
time: the caller locks the restaurant first (`imports.locks`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, insert, select
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
_ROWS_PER_INSERT = 5000


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
    in_range = (Order.restaurant_id == restaurant_id, Order.hour >= first, Order.hour < end)
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
    _rebuild_items(session, restaurant_id, in_range)


def _rebuild_items(session: Session, restaurant_id: str, in_range: tuple[Any, ...]) -> None:
    # Items are a JSON list on each order: summed here, the same way on both databases.
    sold: dict[tuple[dt.datetime, str, str], list[Any]] = {}
    rows = session.execute(
        select(Order.hour, Order.currency, Order.items).where(*in_range)
    ).yield_per(2000)
    for hour, currency, items in rows:
        for product_id, name, quantity, price in items or ():
            entry = sold.get((hour, product_id, currency))
            if entry is None:
                sold[(hour, product_id, currency)] = [name, quantity, quantity * price]
            else:
                entry[0] = max(entry[0], name)
                entry[1] += quantity
                entry[2] += quantity * price
    values = [
        {
            "restaurant_id": restaurant_id,
            "hour": hour,
            "product_id": product_id,
            "currency": currency,
            "name": name,
            "quantity": quantity,
            "revenue_minor": revenue,
        }
        for (hour, product_id, currency), (name, quantity, revenue) in sold.items()
    ]
    connection = session.connection()
    for start in range(0, len(values), _ROWS_PER_INSERT):
        connection.execute(insert(OrderItemHour), values[start : start + _ROWS_PER_INSERT])
