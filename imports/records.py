"""One order of the catalog's `/orders` list, checked and turned into what we store.

An order without a usable id, time, currency or total is skipped (and counted: the import
logs how many); an item line without a product id or with a quantity that is not a whole
number of at least one is dropped from its order, whose `total` still stands as the POS
gave it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from imports.models import NO_BRANCH
from imports.money import currency_code, to_minor
from store.periods import utc_hour
from store.timeutil import parse_iso_z

MAX_ID = 128
MAX_NAME = 200
MAX_QUANTITY = 100_000


class BadOrder(ValueError):
    """An order the import cannot store; the message says why."""


@dataclass(frozen=True)
class OrderRecord:
    """An order as stored: money in minor units, items as `[product, name, qty, price]`."""

    order_id: str
    created_at: dt.datetime
    branch_id: str
    currency: str
    total_minor: int
    customer_ref: str | None
    items: list[list[Any]]
    dropped_items: int = 0

    @property
    def hour(self) -> dt.datetime:
        """Return the UTC hour the order counts in."""
        return utc_hour(self.created_at)

    @property
    def day(self) -> dt.date:
        """Return the UTC day the order counts in."""
        return self.created_at.astimezone(dt.UTC).date()


def read_order(raw: dict[str, Any]) -> OrderRecord:
    """Return the record of one order of the catalog's answer.

    Raises:
      BadOrder: If its id, `createdAt`, `currency` or `total` is missing or unusable.
    """
    order_id = _identifier(raw.get("id"))
    if order_id is None:
        raise BadOrder(f"order without a usable id: {raw.get('id')!r}")
    created_raw = raw.get("createdAt")
    try:
        if not isinstance(created_raw, str):
            raise ValueError
        created_at = parse_iso_z(created_raw)
    except ValueError:
        raise BadOrder(f"order {order_id}: createdAt {created_raw!r} is not ISO 8601") from None
    currency = currency_code(raw.get("currency"))
    if currency is None:
        raise BadOrder(f"order {order_id}: currency {raw.get('currency')!r} is not a code")
    total = to_minor(raw.get("total"), currency)
    if total is None:
        raise BadOrder(f"order {order_id}: total {raw.get('total')!r} is not an amount")
    items, dropped = _items(raw.get("items"), currency)
    return OrderRecord(
        order_id=order_id,
        created_at=created_at,
        branch_id=_identifier(raw.get("branchId")) or NO_BRANCH,
        currency=currency,
        total_minor=total,
        customer_ref=_identifier(raw.get("customerRef")),
        items=items,
        dropped_items=dropped,
    )


def _items(raw: object, currency: str) -> tuple[list[list[Any]], int]:
    if not isinstance(raw, list):
        return [], 0
    items: list[list[Any]] = []
    for line in raw:
        if not isinstance(line, dict):
            continue
        product_id = _identifier(line.get("productId"))
        quantity = _quantity(line.get("quantity"))
        price = to_minor(line.get("price"), currency)
        if product_id is None or quantity is None or price is None:
            continue
        name = line.get("name")
        name = name.strip()[:MAX_NAME] if isinstance(name, str) and name.strip() else product_id
        items.append([product_id, name, quantity, price])
    return items, len(raw) - len(items)


def _identifier(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= MAX_ID else None


def _quantity(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 1 <= value <= MAX_QUANTITY:
        return value
    return None
