"""The demo restaurant's order history: realistic, and the same orders on every run."""

from __future__ import annotations

import collections
import datetime as dt
from decimal import Decimal

from localdev.catalog_server import DEMO_MERCHANT_ID, demo_catalog
from localdev.demo_orders import DEMO_ZONE

NOW = dt.datetime(2025, 10, 24, 12, 0, tzinfo=dt.UTC)


def history(now=NOW, days=60):
    merchant = demo_catalog(clock=lambda: now).get(DEMO_MERCHANT_ID)
    return merchant.orders.between(now - dt.timedelta(days=days), now)


def test_the_demo_has_a_few_thousand_orders_over_the_last_60_days():
    orders = history()
    assert 3000 < len(orders) < 8000
    times = [dt.datetime.fromisoformat(o["createdAt"].replace("Z", "+00:00")) for o in orders]
    assert min(times) >= NOW - dt.timedelta(days=60)
    assert max(times) < NOW
    assert history(days=90) == orders  # nothing older than 60 days
    assert len({o["id"] for o in orders}) == len(orders)


def test_every_run_serves_the_same_orders_with_the_same_ids():
    assert history() == history()
    # A day later the older days are still the same orders.
    later = history(NOW + dt.timedelta(days=1))
    by_id = {o["id"]: o for o in later}
    overlap = [o for o in history() if o["id"] in by_id]
    assert len(overlap) > 0.9 * len(history())
    assert all(by_id[o["id"]] == o for o in overlap)


def test_totals_are_the_sum_of_quantity_times_price_exactly():
    for order in history()[:500]:
        lines = sum(Decimal(str(i["price"])) * i["quantity"] for i in order["items"])
        assert Decimal(str(order["total"])) == lines
        assert order["currency"] == "SAR"


def test_orders_peak_at_lunch_and_dinner_with_a_busier_weekend():
    orders = history()
    local = [
        dt.datetime.fromisoformat(o["createdAt"].replace("Z", "+00:00")).astimezone(DEMO_ZONE)
        for o in orders
    ]
    hours = collections.Counter(moment.hour for moment in local)
    assert hours[13] + hours[14] > 3 * (hours[16] + hours[17]) / 2
    assert hours[21] == max(hours.values())
    days = collections.Counter(moment.weekday() for moment in local)
    assert days[4] > days[1]  # Friday over Tuesday


def test_names_are_arabic_and_english_and_customers_come_back():
    orders = history()
    names = {item["name"] for o in orders for item in o["items"]}
    assert "Chicken Kabsa / كبسة دجاج" in names
    refs = collections.Counter(o["customerRef"] for o in orders if o["customerRef"])
    assert sum(1 for count in refs.values() if count >= 2) > 100
    assert any(o["customerRef"] is None for o in orders)
