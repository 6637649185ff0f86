"""The `orders` part of the insights (SPEC §13): exact money, top items, branches, the
heatmap in the restaurant's zone, repeat customers; null before any import; a constant
number of statements."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from imports.insights import orders_section
from imports.models import OrderImport
from store.periods import Period
from tests.support import factories
from tests.usage_api.conftest import statements  # noqa: F401  (the statement-count fixture)

MERCHANT = "m-orders"
UTC = dt.UTC
NOW = dt.datetime(2025, 10, 24, 12, 0, tzinfo=UTC)


def line(product, name, quantity, price):
    return {"productId": product, "name": name, "quantity": quantity, "price": price}


ORDERS = [
    # Before the first whole UTC day of the period: read from the hourly rows.
    {
        "id": "o0",
        "createdAt": "2025-10-19T20:00:00.000Z",
        "branchId": "b2",
        "total": 1500,
        "currency": "JPY",
        "items": [line("p5", "Wagyu", 1, 1500)],
        "customerRef": "c2",
    },
    {
        "id": "o1",
        "createdAt": "2025-10-20T10:10:00.000Z",
        "branchId": "b1",
        "total": "1.250",
        "currency": "KWD",
        "items": [line("p1", "Machboos / مجبوس", 1, "1.250")],
        "customerRef": "c1",
    },
    {
        "id": "o2",
        "createdAt": "2025-10-20T10:50:00.000Z",
        "branchId": "b1",
        "total": "2.003",
        "currency": "KWD",
        "items": [line("p1", "Machboos / مجبوس", 1, 1.25), line("p2", "Laban", 1, "0.753")],
        "customerRef": "c1",
    },
    {
        "id": "o3",
        "createdAt": "2025-10-21T18:20:00.000Z",
        "branchId": "b2",
        "total": 35.5,
        "currency": "sar",
        "items": [line("p3", "Kabsa / كبسة", 2, "17.75")],
        "customerRef": "c2",
    },
    {
        "id": "o4",
        "createdAt": "2025-10-22T18:40:00.000Z",
        "branchId": None,
        "total": 9.99,
        "currency": "SAR",
        "items": [line("p4", "Karak", 3, "3.33"), line("", "no product", 1, "1")],
        "customerRef": None,
    },
    # Unusable: skipped, never stored.
    {"id": "bad-1", "createdAt": "yesterday", "_at": dt.datetime(2025, 10, 21, 12, tzinfo=UTC)},
    {"id": "bad-2", "createdAt": "2025-10-21T12:00:00Z", "currency": "SAR", "total": "-1"},
    # Before the imported period.
    {"id": "old", "createdAt": "2025-10-01T12:00:00Z", "total": "5", "currency": "SAR"},
]


@pytest.fixture
def kolkata(live_runtime, settings, fake_catalog):
    fake_catalog.catalog.set_merchant(MERCHANT, orders=ORDERS)
    with live_runtime.transaction() as session:
        return factories.restaurant(
            session, settings, restaurant_id="k1", merchant_id=MERCHANT, timezone="Asia/Kolkata"
        )


@pytest.fixture
def imported(kolkata, start, finished, worker):
    return finished(start("k1", days=7, now=NOW), "succeeded")


def section(
    live_runtime, first, last, restaurant_id="k1", timezone="Asia/Kolkata", *, writer=False
):
    # The writer engine is the one whose statements the `statements` fixture records.
    transaction = live_runtime.transaction if writer else live_runtime.read_transaction
    with transaction() as session:
        return orders_section(
            session,
            restaurant_id,
            Period(dt.date.fromisoformat(first), dt.date.fromisoformat(last), timezone),
        )


def heatmap(*cells):
    rows = [[0] * 24 for _ in range(7)]
    for (day, hour), count in cells:
        rows[day][hour] = count
    return rows


def test_orders_are_null_until_an_import_has_ever_succeeded(kolkata, live_runtime):
    assert section(live_runtime, "2025-10-20", "2025-10-23") is None


def test_a_dead_import_alone_leaves_them_null(imported, live_runtime):
    with live_runtime.transaction() as session:
        session.execute(update(OrderImport).values(status="dead"))
    assert section(live_runtime, "2025-10-20", "2025-10-23") is None


def test_the_orders_of_the_period_to_the_last_minor_unit(imported, live_runtime):
    assert imported.result == {"orders": 5, "days": 7, "pages": 7}
    assert section(live_runtime, "2025-10-20", "2025-10-23") == {
        "count": 5,
        "revenue": [
            {"currency": "JPY", "amount": "1500"},
            {"currency": "KWD", "amount": "3.253"},
            {"currency": "SAR", "amount": "45.49"},
        ],
        # 1.6265 and 22.745: half-even to the currency's minor unit.
        "averageTicket": [
            {"currency": "JPY", "amount": "1500"},
            {"currency": "KWD", "amount": "1.626"},
            {"currency": "SAR", "amount": "22.74"},
        ],
        "topItems": [
            {
                "productId": "p4",
                "name": "Karak",
                "quantity": 3,
                "revenue": "9.99",
                "currency": "SAR",
            },
            {
                "productId": "p1",
                "name": "Machboos / مجبوس",
                "quantity": 2,
                "revenue": "2.500",
                "currency": "KWD",
            },
            {
                "productId": "p3",
                "name": "Kabsa / كبسة",
                "quantity": 2,
                "revenue": "35.50",
                "currency": "SAR",
            },
            {
                "productId": "p2",
                "name": "Laban",
                "quantity": 1,
                "revenue": "0.753",
                "currency": "KWD",
            },
            {
                "productId": "p5",
                "name": "Wagyu",
                "quantity": 1,
                "revenue": "1500",
                "currency": "JPY",
            },
        ],
        "byBranch": [
            {"branchId": "b1", "orders": 2},
            {"branchId": "b2", "orders": 2},
            {"branchId": None, "orders": 1},
        ],
        # Kolkata is UTC+5:30: the UTC hour 10:00 stands for local 16:00, 18:00 for the
        # next day's 00:00, 20:00 for 02:00 (SPEC §12's rounding).
        "heatmap": heatmap(((0, 2), 1), ((0, 16), 2), ((2, 0), 1), ((3, 0), 1)),
        "repeatCustomers": 2,
    }


def test_local_days_bound_the_period_in_the_restaurants_zone(imported, live_runtime):
    # o4 (18:40 UTC on the 22nd) is already the 23rd in Kolkata, o0 (20:00 UTC on the 19th)
    # the 20th.
    assert section(live_runtime, "2025-10-20", "2025-10-22")["count"] == 4
    assert section(live_runtime, "2025-10-19", "2025-10-19")["count"] == 0
    assert section(live_runtime, "2025-10-23", "2025-10-23")["count"] == 1
    in_utc = section(live_runtime, "2025-10-22", "2025-10-22", timezone="UTC")
    assert in_utc["heatmap"] == heatmap(((2, 18), 1))


def test_an_empty_period_has_zeros(imported, live_runtime):
    assert section(live_runtime, "2025-01-01", "2025-01-31") == {
        "count": 0,
        "revenue": [],
        "averageTicket": [],
        "topItems": [],
        "byBranch": [],
        "heatmap": heatmap(),
        "repeatCustomers": 0,
    }


def test_at_most_ten_top_items(live_runtime, settings, fake_catalog, start, finished, worker):
    orders = [
        {
            "id": f"x{n}",
            "createdAt": f"2025-10-21T{n:02d}:00:00Z",
            "total": "1",
            "currency": "SAR",
            "items": [line(f"p{n:02d}", f"Item {n}", n, "1")],
        }
        for n in range(1, 13)
    ]
    fake_catalog.catalog.set_merchant("m-many", orders=orders)
    with live_runtime.transaction() as session:
        factories.restaurant(session, settings, restaurant_id="many", merchant_id="m-many")
    finished(start("many", days=7, now=NOW), "succeeded")
    top = section(live_runtime, "2025-10-21", "2025-10-21", "many", "UTC")["topItems"]
    assert [item["productId"] for item in top] == [f"p{n:02d}" for n in range(12, 2, -1)]


def test_the_statement_count_does_not_grow_with_the_period_or_the_orders(
    imported,
    live_runtime,
    statements,  # noqa: F811
):
    statements.clear()
    section(live_runtime, "2025-10-22", "2025-10-22", writer=True)
    one_day = list(statements.statements)
    statements.clear()
    section(live_runtime, "2024-10-24", "2025-10-23", writer=True)
    assert len(statements) == len(one_day)
    assert sum(1 for sql in one_day if sql.lstrip().upper().startswith("SELECT")) == 5


def test_the_orders_section_plugs_into_the_insights_report_with_its_findings(
    imported, live_runtime
):
    from types import SimpleNamespace

    from imports.insights import OrdersSection

    period = Period(dt.date(2025, 10, 20), dt.date(2025, 10, 23), "Asia/Kolkata")
    with live_runtime.read_transaction() as session:
        value, findings = OrdersSection().read(
            session, SimpleNamespace(restaurant_id="k1"), period, now=NOW
        )
    assert value == section(live_runtime, "2025-10-20", "2025-10-23")
    assert [finding["kind"] for finding in findings] == ["top_items"]  # too few for hours
    assert OrdersSection.name == "orders"
