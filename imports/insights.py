"""The `orders` part of `GET /api/insights` (SPEC §13) and its findings.

Read from the order aggregates only, in a constant number of statements (five) whatever
the period's length or the number of orders. `None` until an import of the restaurant has
ever succeeded; then an object with zeros for a period without orders.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import collate, desc, exists, func, select
from sqlalchemy.orm import Session

from imports.findings import order_findings
from imports.models import (
    NO_BRANCH,
    OrderBranchHour,
    OrderCustomerHour,
    OrderHour,
    OrderImport,
    OrderItemHour,
)
from imports.money import divide_half_even, format_minor
from store.db import is_postgresql
from store.periods import Period, local_slot

TOP_ITEMS = 10


def has_imported(session: Session, restaurant_id: str) -> bool:
    """Return True once an order import of the restaurant has ever succeeded."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    OrderImport.restaurant_id == restaurant_id, OrderImport.status == "succeeded"
                )
            )
        )
    )


def orders_section(session: Session, restaurant_id: str, period: Period) -> dict[str, Any] | None:
    """Return the period's orders: count, revenue and average ticket per currency, top
    items, orders per branch, the 7×24 heatmap (Monday first, the restaurant's zone as
    the period says) and repeat customers; None before the first successful import."""
    if not has_imported(session, restaurant_id):
        return None
    first, end = period.utc_hours()
    heatmap = [[0] * 24 for _ in range(7)]
    per_currency: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    hours = session.execute(
        select(OrderHour.hour, OrderHour.currency, OrderHour.orders, OrderHour.revenue_minor)
        .where(
            OrderHour.restaurant_id == restaurant_id,
            OrderHour.hour >= first,
            OrderHour.hour < end,
        )
        .order_by(OrderHour.hour)
    )
    slot = None
    last_hour = None
    for hour, currency, orders, revenue in hours:
        if hour != last_hour:
            last_hour, slot = hour, local_slot(hour, period.timezone)
        assert slot is not None
        heatmap[slot[0].weekday()][slot[1]] += orders
        per_currency[currency][0] += orders
        per_currency[currency][1] += int(revenue)
    currencies = sorted(per_currency)
    return {
        "count": sum(orders for orders, _ in per_currency.values()),
        "revenue": [
            {"currency": c, "amount": format_minor(per_currency[c][1], c)} for c in currencies
        ],
        "averageTicket": [
            {
                "currency": c,
                "amount": format_minor(divide_half_even(per_currency[c][1], per_currency[c][0]), c),
            }
            for c in currencies
        ],
        "topItems": _top_items(session, restaurant_id, first, end),
        "byBranch": _by_branch(session, restaurant_id, first, end),
        "heatmap": heatmap,
        "repeatCustomers": _repeat_customers(session, restaurant_id, first, end),
    }


def _top_items(session: Session, restaurant_id: str, first: Any, end: Any) -> list[dict[str, Any]]:
    quantity = func.sum(OrderItemHour.quantity)
    # The name of the latest spelling would need another read; the greatest in byte order
    # is the same on both databases (PostgreSQL compares in its "C" collation here).
    name = collate(OrderItemHour.name, "C") if is_postgresql(session) else OrderItemHour.name
    rows = session.execute(
        select(
            OrderItemHour.product_id,
            OrderItemHour.currency,
            func.max(name),
            quantity,
            func.sum(OrderItemHour.revenue_minor),
        )
        .where(
            OrderItemHour.restaurant_id == restaurant_id,
            OrderItemHour.hour >= first,
            OrderItemHour.hour < end,
        )
        .group_by(OrderItemHour.product_id, OrderItemHour.currency)
        .order_by(desc(quantity), OrderItemHour.product_id, OrderItemHour.currency)
        .limit(TOP_ITEMS)
    )
    return [
        {
            "productId": product_id,
            "name": item_name,
            "quantity": int(sold),
            "revenue": format_minor(int(revenue), currency),
            "currency": currency,
        }
        for product_id, currency, item_name, sold, revenue in rows
    ]


def _by_branch(session: Session, restaurant_id: str, first: Any, end: Any) -> list[dict[str, Any]]:
    orders = func.sum(OrderBranchHour.orders)
    rows = session.execute(
        select(OrderBranchHour.branch_id, orders)
        .where(
            OrderBranchHour.restaurant_id == restaurant_id,
            OrderBranchHour.hour >= first,
            OrderBranchHour.hour < end,
        )
        .group_by(OrderBranchHour.branch_id)
        .order_by(desc(orders), OrderBranchHour.branch_id)
    )
    return [
        {"branchId": None if branch == NO_BRANCH else branch, "orders": int(count)}
        for branch, count in rows
    ]


def _repeat_customers(session: Session, restaurant_id: str, first: Any, end: Any) -> int:
    repeaters = (
        select(OrderCustomerHour.customer_ref)
        .where(
            OrderCustomerHour.restaurant_id == restaurant_id,
            OrderCustomerHour.hour >= first,
            OrderCustomerHour.hour < end,
        )
        .group_by(OrderCustomerHour.customer_ref)
        .having(func.sum(OrderCustomerHour.orders) >= 2)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(repeaters)) or 0)


class OrdersSection:
    """The `orders` part of `GET /api/insights` as a section of the insights report (the
    `insights.report.Section` protocol): its JSON value and its findings."""

    name = "orders"

    def read(
        self, session: Session, subject: Any, period: Period, *, now: dt.datetime
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Return the period's orders of `subject` (its `restaurant_id`) and the findings."""
        orders = orders_section(session, subject.restaurant_id, period)
        return orders, order_findings(orders)
