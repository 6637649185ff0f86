"""Jinja filters: numbers with thousands separators, times with their zone, durations."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from markupsafe import Markup, escape

from store.timeutil import iso_z, zone


def number(value: int | float | None) -> str:
    """Return `1,234`, or an em dash for nothing."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def percent(value: float | None) -> str:
    """Return a rate (0..1) as `97.5 %`, or an em dash."""
    return "—" if value is None else f"{value * 100:.1f} %"


def when(moment: dt.datetime | None, timezone: str = "UTC") -> Markup:
    """Return a `<time>` element: the moment in `timezone`, its UTC instant as datetime."""
    if moment is None:
        return Markup("<span class=muted>never</span>")
    local = moment.astimezone(zone(timezone))
    # Both parts are digits and punctuation we format ourselves: nothing to escape.
    return Markup(f'<time datetime="{iso_z(moment)}">{local:%Y-%m-%d %H:%M}</time>')  # noqa: S704


def duration(delta: dt.timedelta | float | None) -> str:
    """Return a short duration: `45 s`, `12 min`, `1 h 5 min`, `3 d 2 h`."""
    if delta is None:
        return "—"
    exact = delta.total_seconds() if isinstance(delta, dt.timedelta) else float(delta)
    if 0 < exact < 1:
        return f"{round(exact * 1000)} ms"
    seconds = max(int(exact), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def day_labels(days: list[dt.datetime], every: int) -> list[str]:
    """Return axis labels for consecutive days, one every `every` days and blanks between:
    `7 Nov`, `12`, `17`, … — the month named again when it changes."""
    labels, month = [], None
    for n, day in enumerate(days):
        if n % every:
            labels.append("")
            continue
        labels.append(f"{day.day} {day:%b}" if day.month != month else str(day.day))
        month = day.month
    return labels


def text_dir(value: str | None) -> Markup:
    """Return a `<bdi>` around user text, so Arabic reads right to left inside English."""
    return Markup('<bdi dir="auto">{}</bdi>').format(escape(value or ""))


def init_app(app: Flask) -> None:
    """Register the filters on the app's Jinja environment."""
    app.add_template_filter(number)
    app.add_template_filter(percent)
    app.add_template_filter(when)
    app.add_template_filter(duration)
    app.add_template_filter(text_dir, "bidi")
