"""Prices: the catalog sends major units as a JSON number or a decimal string.

The cache keeps them as decimal strings (`"25.5"`, exact and JSON-serialisable);
`format_price` turns one into what a customer reads (`"25.50 SAR"`).
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

logger = logging.getLogger(__name__)

# ISO 4217 minor units where they are not 2 (Gulf dinars and rials have 3).
_MINOR_UNITS = {
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip


def minor_units(currency: str | None) -> int:
    """Return how many decimals the currency's minor unit has (ISO 4217; 2 when unknown)."""
    return _MINOR_UNITS.get((currency or "").strip().upper(), 2)


def parse_amount(value: object) -> Decimal | None:
    """Return a JSON number or decimal string as an exact `Decimal`, or None when it is not
    a finite, non-negative amount (a bool, NaN, `"abc"`, `-1`)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        # str() of a float is its shortest round-trip form: 25.5 -> "25.5", never 25.4999…
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return amount


def normalize_price(value: object) -> str | None:
    """Return `value` as an exact decimal string, or None when it is not a usable price."""
    amount = parse_amount(value)
    return None if amount is None else format(amount, "f")


def format_price(price: str | int | float | Decimal, currency: str | None) -> str:
    """Return the price in major units with the currency's decimals: `"25.50 SAR"`.

    SAR and most currencies get two decimals; KWD, BHD, OMR… three; JPY… none.

    Raises:
      ValueError: If `price` is not a finite, non-negative amount.
    """
    normalized = normalize_price(price)
    if normalized is None:
        raise ValueError(f"not a price: {price!r}")
    code = (currency or "").strip().upper()
    exponent = Decimal(1).scaleb(-minor_units(code))
    amount = Decimal(normalized).quantize(exponent, rounding=ROUND_HALF_UP)
    return f"{amount} {code}" if code else str(amount)
