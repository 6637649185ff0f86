"""Prices: exact decimal strings in the cache, two decimals and the currency for customers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.prices import format_price, normalize_price


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (25.5, "25.5"),
        ("25.50", "25.50"),
        (" 14 ", "14"),
        (42, "42"),
        (0.1, "0.1"),
        (Decimal("7.25"), "7.25"),
        (1e21, "1000000000000000000000"),
    ],
)
def test_usable_prices_become_exact_decimal_strings(raw: object, normalized: str) -> None:
    assert normalize_price(raw) == normalized


@pytest.mark.parametrize("raw", [None, True, "", "free", "NaN", "inf", -1, [], {"amount": 1}])
def test_unusable_prices_become_none(raw: object) -> None:
    assert normalize_price(raw) is None


@pytest.mark.parametrize(
    ("price", "currency", "shown"),
    [
        ("25.5", "SAR", "25.50 SAR"),
        (25.5, "SAR", "25.50 SAR"),
        ("14", "sar", "14.00 SAR"),
        ("0.005", "SAR", "0.01 SAR"),
        ("1.2345", "KWD", "1.235 KWD"),
        ("1500.4", "JPY", "1500 JPY"),
        ("9.99", None, "9.99"),
    ],
)
def test_prices_are_shown_in_major_units_with_the_currency_decimals(
    price: str | float, currency: str | None, shown: str
) -> None:
    assert format_price(price, currency) == shown


def test_formatting_something_that_is_not_a_price_raises() -> None:
    with pytest.raises(ValueError, match="not a price"):
        format_price("ask", "SAR")
