"""Money of orders and what an order must hold to be stored."""

from __future__ import annotations

import datetime as dt

import pytest

from imports.money import divide_half_even, format_minor, to_minor
from imports.records import BadOrder, read_order


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("35.50", "SAR", 3550),
        (35.5, "SAR", 3550),
        (0.1, "SAR", 10),
        ("1.250", "KWD", 1250),
        (1.25, "KWD", 1250),
        ("1500", "JPY", 1500),
        (10, "SAR", 1000),
        ("10.005", "SAR", 1000),  # finer than the currency: half-even
        ("10.015", "SAR", 1002),
    ],
)
def test_amounts_become_whole_minor_units(value, currency, minor):
    assert to_minor(value, currency) == minor


@pytest.mark.parametrize("value", [None, True, "", "abc", "-1", "NaN", "Infinity", "1e30", [1]])
def test_what_is_not_an_amount_is_none(value):
    assert to_minor(value, "SAR") is None


def test_amounts_are_shown_with_the_currencys_minor_units():
    assert format_minor(3550, "SAR") == "35.50"
    assert format_minor(7, "SAR") == "0.07"
    assert format_minor(1250, "KWD") == "1.250"
    assert format_minor(1500, "JPY") == "1500"
    assert format_minor(0, "SAR") == "0.00"


def test_averages_round_half_to_even():
    assert [divide_half_even(t, 2) for t in (4549, 4551, 3253, 3255)] == [2274, 2276, 1626, 1628]
    assert divide_half_even(0, 0) == 0


def order(**changes):
    base = {
        "id": "o1",
        "createdAt": "2025-10-20T10:10:00.123+03:00",
        "branchId": "b1",
        "total": "12.50",
        "currency": "sar",
        "items": [{"productId": "p1", "name": " Hummus / حمص ", "quantity": 2, "price": 6.25}],
        "customerRef": 42,
    }
    return {**base, **changes}


def test_an_order_is_read_with_exact_money_and_utc_time():
    record = read_order(order())
    assert record.order_id == "o1"
    assert record.created_at == dt.datetime(2025, 10, 20, 7, 10, 0, 123000, tzinfo=dt.UTC)
    assert record.hour == dt.datetime(2025, 10, 20, 7, tzinfo=dt.UTC)
    assert (record.currency, record.total_minor, record.customer_ref) == ("SAR", 1250, "42")
    assert record.items == [["p1", "Hummus / حمص", 2, 625]]


@pytest.mark.parametrize(
    "changes",
    [
        {"id": None},
        {"id": ""},
        {"createdAt": "2025-10-20 10:10"},
        {"createdAt": None},
        {"currency": "riyal"},
        {"total": None},
        {"total": "-3"},
    ],
)
def test_an_order_without_a_usable_id_time_currency_or_total_is_refused(changes):
    with pytest.raises(BadOrder):
        read_order(order(**changes))


def test_unusable_item_lines_are_dropped_and_counted():
    record = read_order(
        order(
            items=[
                {"productId": "p1", "quantity": 1, "price": "1"},
                {"productId": "p2", "quantity": 0, "price": "1"},
                {"productId": "p3", "quantity": 1.5, "price": "1"},
                {"quantity": 1, "price": "1"},
                "nonsense",
            ]
        )
    )
    assert record.items == [["p1", "p1", 1, 100]]
    assert record.dropped_items == 4
