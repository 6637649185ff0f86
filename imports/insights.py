"""The `orders` part of `GET /api/insights` (SPEC §13) and its findings.

Read from the order aggregates only, in a constant number of statements (five) whatever
the period's length or the number of orders. `None` until an import of the restaurant has
ever succeeded; then an object with zeros for a period without orders.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, desc, exists, func, or_, select, union_all
from sqlalchemy.orm import Session

from imports.aggregates import DAY, midnight
from imports.findings import order_findings
from imports.models import (
    NO_BRANCH,
    OrderBranchDay,
    OrderBranchHour,
    OrderCustomerDay,
    OrderCustomerHour,
    OrderHour,
    OrderImport,
    OrderItemDay,
    OrderItemHour,
    OrderProduct,
)
from imports.money import divide_half_even, format_minor
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


@dataclass(frozen=True)
class Span:
    """A period's UTC hours `[first, end)` as whole UTC days (`days`, read from the daily
    rows) and the hours before and after them (`edges`, read from the hourly rows)."""

    first: dt.datetime
    end: dt.datetime
    days: tuple[dt.date, dt.date] | None
    edges: tuple[tuple[dt.datetime, dt.datetime], ...]

    @classmethod
    def of(cls, first: dt.datetime, end: dt.datetime) -> Span:
        """Return the span of the UTC hours `[first, end)` (whole hours)."""
        first_day = first.date() if first == midnight(first.date()) else first.date() + DAY
        end_day = end.date()
        if first_day >= end_day:
            return cls(first, end, None, ((first, end),))
        edges = ((first, midnight(first_day)), (midnight(end_day), end))
        return cls(first, end, (first_day, end_day), tuple((a, b) for a, b in edges if a < b))


def orders_section(session: Session, restaurant_id: str, period: Period) -> dict[str, Any] | None:
    """Return the period's orders: count, revenue and average ticket per currency, top
    items, orders per branch, the 7×24 heatmap (Monday first, the restaurant's zone as
    the period says) and repeat customers; None before the first successful import."""
    if not has_imported(session, restaurant_id):
        return None
    first, end = period.utc_hours()
    span = Span.of(first, end)
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
        "topItems": _top_items(session, restaurant_id, span),
        "byBranch": _by_branch(session, restaurant_id, span),
        "heatmap": heatmap,
        "repeatCustomers": _repeat_customers(session, restaurant_id, span),
    }


def _rows(hourly: Any, daily: Any, columns: tuple[str, ...], restaurant_id: str, span: Span) -> Any:
    """Return the rows of `columns` in the span: the edges' hourly rows and the days' daily
    rows, as one subquery."""
    parts = []
    if span.edges:
        in_edges = or_(*(and_(hourly.hour >= a, hourly.hour < b) for a, b in span.edges))
        parts.append(
            select(*(getattr(hourly, c) for c in columns)).where(
                hourly.restaurant_id == restaurant_id, in_edges
            )
        )
    if span.days is not None:
        parts.append(
            select(*(getattr(daily, c) for c in columns)).where(
                daily.restaurant_id == restaurant_id,
                daily.day >= span.days[0],
                daily.day < span.days[1],
            )
        )
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def _top_items(session: Session, restaurant_id: str, span: Span) -> list[dict[str, Any]]:
    rows = _rows(
        OrderItemHour,
        OrderItemDay,
        ("product_id", "currency", "quantity", "revenue_minor"),
        restaurant_id,
        span,
    )
    quantity = func.sum(rows.c.quantity)
    top = (
        select(
            rows.c.product_id,
            rows.c.currency,
            quantity.label("quantity"),
            func.sum(rows.c.revenue_minor).label("revenue"),
        )
        .group_by(rows.c.product_id, rows.c.currency)
        .order_by(desc(quantity), rows.c.product_id, rows.c.currency)
        .limit(TOP_ITEMS)
        .subquery()
    )
    named = session.execute(
        select(top.c.product_id, top.c.currency, OrderProduct.name, top.c.quantity, top.c.revenue)
        .outerjoin(
            OrderProduct,
            and_(
                OrderProduct.restaurant_id == restaurant_id,
                OrderProduct.product_id == top.c.product_id,
            ),
        )
        .order_by(desc(top.c.quantity), top.c.product_id, top.c.currency)
    )
    return [
        {
            "productId": product_id,
            "name": name or product_id,
            "quantity": int(sold),
            "revenue": format_minor(int(revenue), currency),
            "currency": currency,
        }
        for product_id, currency, name, sold, revenue in named
    ]


def _by_branch(session: Session, restaurant_id: str, span: Span) -> list[dict[str, Any]]:
    rows = _rows(OrderBranchHour, OrderBranchDay, ("branch_id", "orders"), restaurant_id, span)
    orders = func.sum(rows.c.orders)
    found = session.execute(
        select(rows.c.branch_id, orders)
        .group_by(rows.c.branch_id)
        .order_by(desc(orders), rows.c.branch_id)
    )
    return [
        {"branchId": None if branch == NO_BRANCH else branch, "orders": int(count)}
        for branch, count in found
    ]


def _repeat_customers(session: Session, restaurant_id: str, span: Span) -> int:
    rows = _rows(
        OrderCustomerHour, OrderCustomerDay, ("customer_ref", "orders"), restaurant_id, span
    )
    repeaters = (
        select(rows.c.customer_ref)
        .group_by(rows.c.customer_ref)
        .having(func.sum(rows.c.orders) >= 2)
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
