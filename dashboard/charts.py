"""Charts drawn on the server as SVG (no script, no inline style: the CSP allows neither).

The SVG holds only the bars and gridlines in a viewBox it may stretch to any width
(`preserveAspectRatio="none"`); the axis labels are HTML around it (templates/macros.html),
so text stays crisp at 360 px and at 1,440 px. The plot's top is the scale's maximum and
the gridlines sit at quarters of it, where the HTML labels line up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from operations.job_outcomes import Bucket

WIDTH = 720.0
HEIGHT = 100.0
STEPS = 4


@dataclass(frozen=True)
class Bar:
    """One bar: the lower value stacked under the upper one (viewBox units)."""

    x: float
    width: float
    low_y: float
    low_height: float
    high_y: float
    high_height: float
    title: str


@dataclass(frozen=True)
class BarChart:
    """A stacked bar chart's geometry, its scale and its axis labels."""

    width: float
    height: float
    bars: list[Bar]
    maximum: int
    gridlines: list[tuple[float, int]]  # (y in viewBox units, value), top first
    labels: list[str]  # one per bar; "" where the axis shows none
    size: int  # how many bars: the axis has as many columns


def outcome_chart(buckets: Sequence[Bucket], labels: Sequence[str], every: int) -> BarChart:
    """Return the chart of succeeded (bottom) and failed (top) jobs per bucket; every
    `every`-th bucket is labelled on the axis."""
    series = [
        (label, bucket.succeeded, bucket.failed)
        for bucket, label in zip(buckets, labels, strict=True)
    ]
    return stacked_chart(series, every, ("succeeded", "failed"))


def stacked_chart(
    series: Sequence[tuple[str, int, int]], every: int, names: tuple[str, str]
) -> BarChart:
    """Return a chart of (label, lower value, upper value) bars; `names` name the values
    in each bar's tooltip ("" for a chart of one value)."""
    peak = max((low + high for _, low, high in series), default=0)
    step = nice_step(peak)
    maximum = step * STEPS
    slot = WIDTH / max(len(series), 1)
    bars = []
    for n, (label, low, high) in enumerate(series):
        low_height = HEIGHT * low / maximum
        high_height = HEIGHT * high / maximum
        title = f"{label}: {low:,} {names[0]}" + (f", {high:,} {names[1]}" if names[1] else "")
        bars.append(
            Bar(
                x=round(n * slot + slot * 0.15, 2),
                width=round(slot * 0.7, 2),
                low_y=round(HEIGHT - low_height, 3),
                low_height=round(low_height, 3),
                high_y=round(HEIGHT - low_height - high_height, 3),
                high_height=round(high_height, 3),
                title=title,
            )
        )
    gridlines = [(HEIGHT * (STEPS - k) / STEPS, step * k) for k in range(STEPS, 0, -1)]
    axis = [label if n % every == 0 else "" for n, (label, _, _) in enumerate(series)]
    return BarChart(WIDTH, HEIGHT, bars, maximum, gridlines, axis, len(series))


def nice_step(peak: int) -> int:
    """Return the gridline step: the smallest of 1, 2, 5, 10, 20, 50… whose four steps
    reach `peak`."""
    step, factors = 1, (2, 2.5, 2)  # 1 → 2 → 5 → 10 → 20 → 50 → 100 …
    n = 0
    while step * STEPS < peak:
        step = int(step * factors[n % 3])
        n += 1
    return step


@dataclass(frozen=True)
class Gauge:
    """A horizontal bar of `used` against `limit`."""

    used: int
    limit: int
    fraction: float
    level: str  # "ok" | "warn" | "full"


def gauge(used: int, limit: int) -> Gauge:
    """Return how full an allowance is (warn from 80 %, full at 100 %)."""
    fraction = 1.0 if limit <= 0 else min(used / limit, 1.0)
    level = "full" if fraction >= 1.0 else "warn" if fraction >= 0.8 else "ok"
    return Gauge(used=used, limit=limit, fraction=round(fraction * 100, 2), level=level)


def count_chart(values: Sequence[tuple[str, int]], name: str) -> BarChart:
    """Return a one-series bar chart of labelled counts (conversations per month…)."""
    return stacked_chart([(label, value, 0) for label, value in values], 1, (name, ""))
