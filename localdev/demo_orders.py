"""Orders the demo catalog serves at `/merchants/{m}/orders` (SPEC §13).

`DemoOrders`: a few thousand realistic orders of the demo restaurant over the 60 days
before now — lunch and dinner peaks in Riyadh time, busier Thursday nights and Fridays
(the Saudi weekend), Arabic and English item names, regulars who come back — each local
day generated from a RNG seeded with that day's date, so every run serves the same orders
with the same ids. `FixedOrders`: a given list, for tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

Order = dict[str, Any]

DEMO_ZONE = ZoneInfo("Asia/Riyadh")
DEMO_DAYS = 60

# Orders per local day, Monday first; Thursday night and the Friday/Saturday weekend peak.
_ORDERS_PER_DAY = (78, 74, 80, 104, 118, 110, 84)
# Relative orders per local hour (lunch 13-14, dinner 20-22; Friday lunch after prayers).
_WEEKDAY_HOURS = {
    0: 2, 1: 0.5, 12: 4, 13: 9, 14: 8, 15: 4, 16: 2, 17: 2.5, 18: 4, 19: 7, 20: 10, 21: 11,
    22: 8, 23: 5,
}  # fmt: skip
_FRIDAY_HOURS = {
    0: 4, 1: 2, 13: 1, 14: 9, 15: 7, 16: 3, 17: 3, 18: 5, 19: 8, 20: 11, 21: 12, 22: 10,
    23: 7,
}  # fmt: skip
_LATE_NIGHT = {0: 4, 1: 1.5, 23: 7}  # Thursday and Saturday nights run late
# How popular each item is (English name); the rest of the menu sells with weight 1.
_POPULAR = {
    "Chicken Kabsa": 10, "Chicken Shawarma Wrap": 9, "Chicken Mandi": 8, "Karak Tea": 7,
    "Mixed Grill": 6, "Shish Tawook": 6, "Lamb Mandi": 5, "Beef Shawarma Wrap": 5,
    "Hummus": 5, "Kunafa": 4, "Fresh Orange Juice": 4, "Lamb Kabsa": 4, "Fattoush": 3,
    "Saudi Coffee": 3, "Chicken Shawarma Plate": 3, "Falafel Sandwich": 3, "Laban": 3,
}  # fmt: skip
_LUNCH_FAVOURITES = ("rice", "sandwiches", "shawarma")
_DINNER_FAVOURITES = ("grills", "family", "desserts")
_DRINKS = ("hot-drinks", "cold-drinks")
_BRANCHES = (("riyadh-olaya", 45), ("riyadh-nakheel", 32), ("jeddah-tahlia", 23))
_REGULARS, _OCCASIONAL = 80, 2400


class OrderSource(Protocol):
    """What the catalog server asks a merchant's orders."""

    def between(self, since: dt.datetime, until: dt.datetime) -> list[Order]:
        """Return the orders created in `[since, until)`, oldest first."""
        ...


class FixedOrders:
    """A given list of orders (tests). An order's `_at` (a datetime) places it in time
    instead of its `createdAt` (which may then be anything, to test bad input)."""

    def __init__(self, orders: Sequence[Order]) -> None:
        placed = [(_moment(order), order) for order in orders]
        self._orders = sorted(placed, key=lambda pair: pair[0])

    def between(self, since: dt.datetime, until: dt.datetime) -> list[Order]:
        return [
            {k: v for k, v in order.items() if k != "_at"}
            for at, order in self._orders
            if since <= at < until
        ]


class DemoOrders:
    """The demo restaurant's order history, the same on every run.

    Parameters:
      products: The menu's products (`id`, `name`, `price`, `category_id`).
      merchant_id: Seeds the RNG (another merchant gets other orders).
      days: How far back from now orders exist.
      scale: Multiplies the orders per day (benchmarks).
      clock: Returns now (tests may freeze it).
    """

    def __init__(
        self,
        products: Sequence[dict[str, Any]],
        *,
        merchant_id: str = "demo-merchant",
        days: int = DEMO_DAYS,
        scale: float = 1.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.products = list(products)
        self.merchant_id = merchant_id
        self.days = days
        self.scale = scale
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._days: dict[dt.date, list[tuple[dt.datetime, Order]]] = {}
        self._lock = threading.Lock()

    def between(self, since: dt.datetime, until: dt.datetime) -> list[Order]:
        now = self.clock()
        start, end = max(since, now - dt.timedelta(days=self.days)), min(until, now)
        if start >= end:
            return []
        day = start.astimezone(DEMO_ZONE).date()
        last = (end - dt.timedelta(microseconds=1)).astimezone(DEMO_ZONE).date()
        found: list[Order] = []
        while day <= last:
            found.extend(order for at, order in self.of_day(day) if start <= at < end)
            day += dt.timedelta(days=1)
        return found

    def of_day(self, day: dt.date) -> list[tuple[dt.datetime, Order]]:
        """Return the orders of local `day` with their times, oldest first."""
        with self._lock:
            orders = self._days.get(day)
            if orders is None:
                orders = self._days[day] = self._generate(day)
            return orders

    def _generate(self, day: dt.date) -> list[tuple[dt.datetime, Order]]:
        rng = random.Random(f"{self.merchant_id}:{day.isoformat()}")
        weekday = day.weekday()
        count = round(_ORDERS_PER_DAY[weekday] * self.scale * rng.uniform(0.88, 1.12))
        hours = dict(_FRIDAY_HOURS if weekday == 4 else _WEEKDAY_HOURS)
        if weekday in (3, 5):
            hours.update(_LATE_NIGHT)
        moments = sorted(
            dt.datetime.combine(
                day,
                dt.time(
                    rng.choices(list(hours), list(hours.values()))[0],
                    rng.randrange(60),
                    rng.randrange(60),
                    rng.randrange(1000) * 1000,
                ),
                tzinfo=DEMO_ZONE,
            )
            for _ in range(count)
        )
        return [
            (moment.astimezone(dt.UTC), self._order(rng, day, number, moment))
            for number, moment in enumerate(moments, start=1)
        ]

    def _order(self, rng: random.Random, day: dt.date, number: int, moment: dt.datetime) -> Order:
        lines = self._lines(rng, moment.hour, moment.weekday())
        total = sum((Decimal(line["price"]) * line["quantity"] for line in lines), Decimal(0))
        for index, line in enumerate(lines):
            # Both shapes the real API sends: a JSON number, or a decimal string.
            if (number + index) % 2:
                line["price"] = float(line["price"])
        return {
            "id": f"ord-{day:%Y%m%d}-{number:04d}",
            "createdAt": _iso_z(moment),
            "branchId": rng.choices([b for b, _ in _BRANCHES], [w for _, w in _BRANCHES])[0],
            "total": str(total) if number % 2 else float(total),
            "currency": "SAR",
            "items": lines,
            "customerRef": _customer(rng),
        }

    def _lines(self, rng: random.Random, hour: int, weekday: int) -> list[dict[str, Any]]:
        lunch = 11 <= hour < 17
        weekend = weekday in (3, 4, 5)
        weights = []
        for product in self.products:
            english = str(product.get("name_en") or product.get("name", "")).split(" / ")[0]
            weight = float(_POPULAR.get(english, 1))
            category = product.get("category_id")
            if category in _DRINKS:
                weight = 0  # added below, as a side
            elif category in (_LUNCH_FAVOURITES if lunch else _DINNER_FAVOURITES):
                weight *= 1.6
            if category == "family" and weekend:
                weight *= 2.5
            weights.append(weight)
        count = rng.choices((1, 2, 3, 4), (35, 35, 20, 10))[0]
        chosen = {p["id"]: p for p in rng.choices(self.products, weights, k=count)}
        if rng.random() < 0.45:
            drinks = [p for p in self.products if p.get("category_id") in _DRINKS]
            drink_weights = [
                _POPULAR.get(str(p.get("name_en") or p["name"]).split(" / ")[0], 1) for p in drinks
            ]
            if drinks:
                drink = rng.choices(drinks, drink_weights)[0]
                chosen[drink["id"]] = drink
        return [
            {
                "productId": product["id"],
                "name": product["name"],
                "quantity": 1
                if product.get("category_id") == "family"
                else rng.choices((1, 2, 3), (70, 22, 8))[0],
                "price": str(product["price"]),
            }
            for product in chosen.values()
        ]


def _customer(rng: random.Random) -> str | None:
    if rng.random() < 0.35:
        return None  # walk-in or cash: the POS knows no customer
    if rng.random() < 0.3:
        number = rng.randrange(_REGULARS)
    else:
        number = _REGULARS + rng.randrange(_OCCASIONAL)
    return "cus_" + hashlib.sha256(f"demo-customer-{number}".encode()).hexdigest()[:12]


def _moment(order: Order) -> dt.datetime:
    at = order.get("_at")
    if isinstance(at, dt.datetime):
        return at
    return dt.datetime.fromisoformat(str(order["createdAt"]).replace("Z", "+00:00"))


def _iso_z(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
