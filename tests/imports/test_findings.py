"""Findings about what sells and when: deterministic rules over the `orders` part."""

from __future__ import annotations

from imports.findings import order_findings


def orders(count=0, top=(), cells=()):
    heatmap = [[0] * 24 for _ in range(7)]
    for (day, hour), n in cells:
        heatmap[day][hour] = n
    return {
        "count": count,
        "revenue": [],
        "averageTicket": [],
        "topItems": list(top),
        "byBranch": [],
        "heatmap": heatmap,
        "repeatCustomers": 0,
    }


def item(product, quantity, revenue="10.00"):
    name = f"Item {product}"
    return {
        "productId": product,
        "name": name,
        "quantity": quantity,
        "revenue": revenue,
        "currency": "SAR",
    }


# A day with lunch (13-14) and dinner (20-21) peaks and a lull between them.
DAY = {12: 4, 13: 10, 14: 9, 15: 5, 16: 1, 17: 1, 18: 4, 19: 7, 20: 12, 21: 11, 22: 6}


def week():
    return [
        ((day, hour), n * (2 if day == 4 else 1)) for day in range(7) for hour, n in DAY.items()
    ]


def test_no_orders_no_findings():
    assert order_findings(None) == []
    assert order_findings(orders()) == []


def test_the_best_sellers_are_named_with_their_quantities():
    [top] = order_findings(orders(5, [item("a", 9, "90.00"), item("b", 4), item("c", 2)]))
    assert (top["kind"], top["severity"], top["title"]) == ("top_items", "info", "What sells most")
    assert top["text"] == (
        "Item a sold most: 9 in the period (90.00 SAR), then Item b (4) and Item c (2)."
    )
    assert [i["productId"] for i in top["numbers"]["items"]] == ["a", "b", "c"]
    assert top["numbers"]["orders"] == 5


def test_a_best_sellers_revenue_reads_with_thousands_separators_to_the_last_minor_unit():
    [top] = order_findings(orders(700, [item("a", 640, "12345.50")]))
    assert top["text"] == "Item a sold most: 640 in the period (12,345.50 SAR)."


def test_peaks_are_the_three_busiest_hours_of_the_week():
    cells = week()
    total = sum(n for _, n in cells)
    found = {f["kind"]: f for f in order_findings(orders(total, [item("a", 1)], cells))}
    peaks = found["peak_order_hours"]
    assert peaks["numbers"] == {
        "orders": total,
        "share": round(100 * 66 / total, 1),
        "slots": [
            {"weekday": 4, "hour": 20, "orders": 24},
            {"weekday": 4, "hour": 21, "orders": 22},
            {"weekday": 4, "hour": 13, "orders": 20},
        ],
    }
    assert peaks["title"] == "Busiest order hours: Friday 20:00, Friday 21:00, Friday 13:00"


def test_slow_hours_are_the_lull_between_the_busy_hours():
    cells = week()
    found = {f["kind"]: f for f in order_findings(orders(500, [item("a", 1)], cells))}
    slow = found["slow_hours"]
    assert slow["numbers"]["hours"] == [16, 17]
    assert slow["numbers"]["ranges"] == [{"from": "16:00", "to": "18:00"}]
    assert "16:00–18:00 sell little" in slow["text"]


def test_hour_findings_need_enough_orders():
    cells = [((0, 13), 5), ((0, 16), 1), ((0, 20), 5)]
    kinds = [f["kind"] for f in order_findings(orders(11, [item("a", 1)], cells))]
    assert kinds == ["top_items"]


def test_an_even_day_has_no_slow_hours():
    cells = [((0, hour), 10) for hour in range(12, 23)]
    kinds = [f["kind"] for f in order_findings(orders(110, [item("a", 1)], cells))]
    assert kinds == ["top_items", "peak_order_hours"]
