"""Findings about what sells and when (SPEC §13): `top_items`, `peak_order_hours`,
`slow_hours`. Rule-based and deterministic, read from the `orders` part of the insights
alone, in the shape of §12's findings: `{kind, severity, title, text, numbers}`.
"""

from __future__ import annotations

from typing import Any

from imports.money import money

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Hour findings need this many orders in the period to mean anything.
MIN_ORDERS_FOR_HOURS = 20
# A slow hour sells under this share of an average trading hour.
SLOW_SHARE = 0.5


def order_findings(orders: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Return the findings the `orders` part supports (none when it is None or thin)."""
    if not orders or not orders["count"]:
        return []
    found = [_top_items(orders)]
    if orders["count"] >= MIN_ORDERS_FOR_HOURS:
        found += [_peak_hours(orders), _slow_hours(orders)]
    return [finding for finding in found if finding is not None]


def _finding(kind: str, title: str, text: str, numbers: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "severity": "info", "title": title, "text": text, "numbers": numbers}


def _top_items(orders: dict[str, Any]) -> dict[str, Any] | None:
    top = orders["topItems"][:3]
    if not top:
        return None
    first, rest = top[0], top[1:]
    text = (
        f"{first['name']} sold most: {first['quantity']} in the period"
        f" ({money(first['revenue'], first['currency'])})"
    )
    if rest:
        others = " and ".join(f"{item['name']} ({item['quantity']})" for item in rest)
        text += f", then {others}"
    return _finding(
        "top_items",
        "What sells most",
        text + ".",
        {"items": [dict(item) for item in top], "orders": orders["count"]},
    )


def _peak_hours(orders: dict[str, Any]) -> dict[str, Any] | None:
    cells = [
        (count, day, hour)
        for day, row in enumerate(orders["heatmap"])
        for hour, count in enumerate(row)
        if count
    ]
    peaks = sorted(cells, key=lambda cell: (-cell[0], cell[1], cell[2]))[:3]
    if not peaks:
        return None
    total = orders["count"]
    share = round(100 * sum(count for count, _, _ in peaks) / total, 1)
    labels = ", ".join(f"{WEEKDAYS[day]} {hour:02d}:00" for _, day, hour in peaks)
    return _finding(
        "peak_order_hours",
        f"Busiest order hours: {labels}",
        f"{share:g}% of this period's {total} orders came in these {len(peaks)} hours of the"
        " week (restaurant time). Staff the kitchen and stock up for them.",
        {
            "orders": total,
            "share": share,
            # `weekday` as the heatmap's rows: 0 is Monday.
            "slots": [{"weekday": d, "hour": h, "orders": c} for c, d, h in peaks],
        },
    )


def _slow_hours(orders: dict[str, Any]) -> dict[str, Any] | None:
    by_hour = [sum(row[hour] for row in orders["heatmap"]) for hour in range(24)]
    trading = [count for count in by_hour if count]
    if not trading:
        return None
    average = sum(trading) / len(trading)
    busy = [hour for hour, count in enumerate(by_hour) if count >= average]
    # The lull between the day's busy hours (after lunch, before dinner), not the night.
    slow = [hour for hour in range(busy[0] + 1, busy[-1]) if by_hour[hour] < SLOW_SHARE * average]
    if not slow:
        return None
    runs = _runs(slow)
    in_slow = sum(by_hour[hour] for hour in slow)
    per_hour = round(in_slow / len(slow), 1)
    listed = " and ".join(_span(start, end) for start, end in runs)
    return _finding(
        "slow_hours",
        "Quiet hours",
        f"Between the busy hours, {listed} sell{'s' if len(slow) == 1 else ''} little:"
        f" {per_hour} orders an hour over the period against {round(average, 1)} in an"
        " average trading hour. A time for an offer, or for preparing the rush.",
        {
            "hours": slow,
            "ranges": [{"from": f"{a:02d}:00", "to": f"{b % 24:02d}:00"} for a, b in runs],
            "ordersPerHour": per_hour,
            "averagePerTradingHour": round(average, 1),
        },
    )


def _runs(hours: list[int]) -> list[tuple[int, int]]:
    """Return consecutive hours as [start, end) spans."""
    runs: list[tuple[int, int]] = []
    for hour in hours:
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + 1)
        else:
            runs.append((hour, hour + 1))
    return runs


def _span(start: int, end: int) -> str:
    return f"{start:02d}:00–{end % 24:02d}:00"
