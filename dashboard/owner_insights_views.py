"""The owner's Insights page (SPEC §12–14): `GET /api/insights` as a page.

It reads through the API's own service functions (`insights.report.subject_of`,
`store.periods.parse_period`, `insights.report.build_report`), so the page and the JSON
never hold two copies of a query; the only read of its own is the restaurant's name for
the heading. What is computed here is presentation: heat levels, funnel bar lengths,
money with thousands separators.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape
from sqlalchemy import select

from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.charts import gauge
from dashboard.errors import PageError
from dashboard.owner_views import OWNER_PAGES, require_restaurant
from dashboard.security import sign_in_required
from imports.money import money
from insights.findings import WEEKDAYS
from insights.report import build_report, subject_of
from store.models import Restaurant
from store.periods import PeriodError, parse_period
from store.restaurants import RESTAURANT_ID
from store.timeutil import local_date
from usage_api.clock import request_now

# The period picker's quick links, in days ending today.
QUICK_PERIODS = (7, 30, 90)
HEAT_LEVELS = 5  # heat-1 … heat-5; heat-0 is an hour with nothing
STEP_LABELS = {
    "welcome": "Got the welcome",
    "menu": "Saw the menu",
    "category": "Opened a category",
    "branch": "Chose a branch",
}


@dataclass(frozen=True)
class FunnelBar:
    """One funnel step as a horizontal bar."""

    step: str
    label: str
    conversations: int
    percent: float  # of the funnel's base, 0..100


@dataclass(frozen=True)
class Heatmap:
    """A weekday × hour heatmap as the page draws it, twice: `days` (7 rows of 24 hours,
    for wide screens) and `hours` (24 rows of 7 days, for a phone), each row a label and
    its cells' HTML; `peak` is the busiest hour's count."""

    days: list[tuple[str, Markup]]
    hours: list[tuple[str, Markup]]
    peak: int


def heat_levels(grid: Sequence[Sequence[int]]) -> list[list[int]]:
    """Return each hour's shade, `HEAT_LEVELS` steps of the busiest (0 for none)."""
    peak = max((count for row in grid for count in row), default=0)
    return [[-(-count * HEAT_LEVELS // peak) if count else 0 for count in row] for row in grid]


def heatmap(grid: Sequence[Sequence[int]]) -> Heatmap:
    """Return the 7 × 24 counts (Monday first) as the page's two layouts.

    The cells are made here as HTML (digits, commas and class names only: nothing to
    escape) rather than by the template: two layouts of two heatmaps are 672 cells, and
    the template's work per cell made rendering the page's slowest part.
    """
    levels = heat_levels(grid)

    def cell(day: int, hour: int) -> str:
        count = grid[day][hour]
        return f'<td class="heat-{levels[day][hour]}">{f"{count:,}" if count else ""}</td>'

    # Digits, commas and our own class names: nothing to escape.
    days = [
        (WEEKDAYS[day][:3], Markup("".join(cell(day, hour) for hour in range(24))))  # noqa: S704
        for day in range(7)
    ]
    hours = [
        (f"{hour:02d}:00", Markup("".join(cell(day, hour) for day in range(7))))  # noqa: S704
        for hour in range(24)
    ]
    return Heatmap(days, hours, max((max(row) for row in grid), default=0))


def funnel_bars(funnel: Sequence[Mapping[str, Any]], conversations: int) -> list[FunnelBar]:
    """Return the funnel's bars as shares of the conversations started (or of its widest
    step, when conversations begun before the period reached a step in it)."""
    base = max([conversations, *(int(step["conversations"]) for step in funnel)])
    return [
        FunnelBar(
            step=step["step"],
            label=STEP_LABELS.get(step["step"], step["step"]),
            conversations=int(step["conversations"]),
            percent=gauge(int(step["conversations"]), base).fraction if base else 0.0,
        )
        for step in funnel
    ]


# A run of right-to-left letters (Hebrew, Arabic and their presentation forms), with the
# spaces and marks between them: one word or a whole Arabic phrase.
_RTL = "\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc"
_RTL_RUN = re.compile(f"[{_RTL}](?:[\\s{_RTL}]*[{_RTL}])?")


def mixed_text(text: str) -> Markup:
    """Return English text that quotes Arabic names, each Arabic run isolated (`<bdi>`), so
    that the numbers and brackets after a name stay where the English sentence puts them."""
    parts: list[Markup | str] = []
    last = 0
    for run in _RTL_RUN.finditer(text):
        parts += [text[last : run.start()], Markup('<bdi dir="rtl">%s</bdi>') % run.group()]
        last = run.end()
    parts.append(text[last:])
    return Markup('<bdi dir="auto">%s</bdi>') % Markup("").join(escape(part) for part in parts)


def _arg(name: str) -> str | None:
    # A GET form sends an empty field as `name=`: the page reads that as "not given".
    value = (request.args.get(name) or "").strip()
    return value or None


def _jobs_address(restaurant_id: str) -> str:
    if "dashboard.owner_jobs" in current_app.view_functions:
        return url_for("dashboard.owner_jobs", restaurant_id=restaurant_id)
    return f"/dashboard/r/{restaurant_id}/jobs"


def day_text(day: dt.date) -> str:
    """Return a day as the page writes it: `Mon 20 Oct 2025`."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def _fresh_as_of(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


@bp.get("/r/<restaurant_id>/insights")
@sign_in_required
def owner_insights(restaurant_id: str) -> ResponseReturnValue:
    """Show the restaurant's insights over the chosen local days (the last 7 by default)."""
    require_restaurant(restaurant_id)
    current = runtime()
    now = request_now()
    here = url_for("dashboard.owner_insights", restaurant_id=restaurant_id)
    with current.read_transaction() as session:
        subject = (
            subject_of(session, restaurant_id) if RESTAURANT_ID.fullmatch(restaurant_id) else None
        )
        if subject is None:
            raise PageError(404, "not_found", "There is no such restaurant page.")
        try:
            period = parse_period(_arg("from"), _arg("to"), now=now, timezone=subject.timezone)
        except PeriodError as error:
            raise PageError(
                400,
                "invalid_parameter",
                f"{str(error)[:1].upper()}{str(error)[1:]}. Dates are YYYY-MM-DD in the"
                " restaurant's zone, 'from' no later than 'to', at most 366 days.",
                title="That period cannot be shown",
                next_step=(here, "Show the last 7 days"),
            ) from None
        menu = current.catalog_peek.categories(subject.merchant_id)
        report = build_report(
            session, subject, period, now=now, menu=menu, summaries=current.insights_narrator
        )
        name = session.scalar(select(Restaurant.name).where(Restaurant.id == restaurant_id))
    today = local_date(now, subject.timezone)
    quick = [
        (
            days,
            (today - dt.timedelta(days=days - 1)).isoformat(),
            today.isoformat(),
        )
        for days in QUICK_PERIODS
    ]
    totals = report["totals"]
    orders = report["orders"]
    return render_template(
        "owner/insights.html",
        report=report,
        name=name or restaurant_id,
        zone=subject.timezone,
        period=period,
        quick=quick,
        fresh_as_of=_fresh_as_of(report["freshAsOf"]),
        funnel=funnel_bars(report["funnel"], totals["conversations"]),
        heat=heatmap(report["heatmap"]),
        order_heat=heatmap(orders["heatmap"]) if orders else None,
        menu_cached=menu is not None,
        weekdays=WEEKDAYS,
        money=money,
        mixed_text=mixed_text,
        day_text=day_text,
        jobs_address=_jobs_address(restaurant_id),
        owner_pages=OWNER_PAGES,
        restaurant_id=restaurant_id,
    )
