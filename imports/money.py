"""Money of imported orders: exact amounts in integer minor units of their currency.

The catalog sends major units as a JSON number or a decimal string (SPEC §7, §13); they are
read through `Decimal` (a float by its shortest round-trip text, so 25.5 stays 25.5) and
kept as whole minor units: 35.50 SAR is 3550, 1.250 KWD is 1250. An amount finer than its
currency's minor unit (a POS that computed 10.3500000001) is rounded half-even to it.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from catalog.prices import minor_units, parse_amount

_CURRENCY = re.compile(r"^[A-Z]{3}$")
# More than any order's total in any currency's minor units; keeps sums inside 64 bits.
MAX_MINOR = 10**15


def currency_code(value: object) -> str | None:
    """Return an ISO 4217-shaped code (`"SAR"`), upper-cased, or None when it is not one."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if _CURRENCY.fullmatch(code) else None


def to_minor(value: object, currency: str) -> int | None:
    """Return a non-negative major-unit amount as whole minor units, or None if unusable."""
    amount = parse_amount(value)
    if amount is None:
        return None
    scaled = amount.scaleb(minor_units(currency))
    if scaled > MAX_MINOR:
        return None
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def format_minor(minor: int, currency: str) -> str:
    """Return minor units as the exact major-unit string (`3550, "SAR"` → `"35.50"`)."""
    return format(Decimal(minor).scaleb(-minor_units(currency)), "f")


def divide_half_even(total: int, count: int) -> int:
    """Return `total / count` rounded half-even to a whole number (an average in minor units)."""
    if count <= 0:
        return 0
    quotient = (Decimal(total) / Decimal(count)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(quotient)


def money(amount: str, currency: str) -> str:
    """Return an exact amount (the API's major-unit string) for people, with thousands separators:
    `"12345.50"`, `"SAR"` → `12,345.50 SAR`."""
    try:
        Decimal(amount)
    except InvalidOperation:
        return f"{amount} {currency}"
    whole, _, fraction = amount.partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-') or '0'):,}"
    return f"{sign}{grouped}{'.' + fraction if fraction else ''} {currency}"
