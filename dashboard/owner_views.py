"""A restaurant's own pages (SPEC §14), for its owner's PAT session or, read-only, an
operator: Usage now; Insights, Jobs, Failures and Alerts join the navigation as their
views are added (`OWNER_PAGES`). Another restaurant's address is `404` to an owner."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from flask import render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from alerts.forecast import Forecast, usage_forecasts
from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.charts import count_chart, gauge
from dashboard.errors import PageError
from dashboard.security import sign_in_required, signed_in
from store import usage
from store.restaurants import RESTAURANT_ID
from store.timeutil import iso_z, zone
from store.usage_values import MonthUsage, RestaurantUsage
from usage_api.clock import request_now

# The owner pages in navigation order: (endpoint, title). An entry shows once its view
# exists, so the later pages only add their view (`dashboard.owner_insights`, …).
OWNER_PAGES = (
    ("dashboard.owner_usage", "Usage"),
    ("dashboard.owner_insights", "Insights"),
    ("dashboard.owner_jobs", "Jobs"),
    ("dashboard.owner_failures", "Messages that failed"),
    ("dashboard.owner_alerts", "Alerts"),
)


def require_restaurant(restaurant_id: str) -> None:
    """Let an operator or this restaurant's owner in; anyone else gets 404.

    Raises:
      PageError: 404, the same for another restaurant and for none at all.
    """
    who = signed_in()
    if who is None or not who.sees_restaurant(restaurant_id):
        raise PageError(404, "not_found", "There is no such restaurant page.")


@dataclass(frozen=True)
class Pace:
    """Where a limit is heading, as the page says it.

    `state` is "reached" (already), "on" (reached at `when` at this pace), "within" (not
    before the period ends) or "none" (no activity to take a pace from)."""

    state: str
    rate: float
    when: str = ""  # "24 December" or "21:00"
    when_iso: str = ""
    projected: int = 0


def month_pace(found: Forecast, usage: RestaurantUsage) -> Pace:
    """Return the monthly conversations' pace of SPEC §15 as the page tells it."""
    rate = float(found.daily_conversation_rate)
    reached_on = found.monthly_limit_reached_on
    if usage.conversations_this_month >= usage.allowance.monthly_limit:
        return Pace("reached", rate)
    if reached_on is not None:
        return Pace("on", rate, f"{reached_on.day} {reached_on:%B}", reached_on.isoformat())
    state = "none" if rate == 0 else "within"
    return Pace(state, rate, projected=found.projected_month_conversations)


def day_pace(found: Forecast, usage: RestaurantUsage, timezone: str) -> Pace:
    """Return today's messages' pace of SPEC §15 as the page tells it."""
    rate = float(found.daily_messages_rate)
    allowance = usage.allowance
    if allowance.daily_remaining <= 0:
        return Pace("reached", rate)
    at = found.daily_limit_reached_at
    if at is not None:
        return Pace("on", rate, f"{at.astimezone(zone(timezone)):%H:%M}", iso_z(at) or "")
    return Pace("none" if rate == 0 else "within", rate)


@dataclass(frozen=True)
class MonthRow:
    """One month of the history table, as the page shows it."""

    name: str  # "Dec 2026"
    conversations: int
    last_started: Markup


def month_rows(history: list[MonthUsage], timezone: str) -> list[MonthRow]:
    """Return the history's rows, newest first, narrow enough for a phone."""
    return [
        MonthRow(
            f"{dt.date(m.year, m.month, 1):%b %Y}",
            m.conversation_count,
            short_time(m.last_conversation_at, timezone),
        )
        for m in history
    ]


def short_time(moment: dt.datetime | None, timezone: str) -> Markup:
    """Return `<time>` showing the day (`6 Dec`) in `timezone`, the time as its title, or
    "none" for nothing. (Day and time did not fit a phone's width beside the counts.)"""
    if moment is None:
        return Markup('<span class="muted">none</span>')
    local = moment.astimezone(zone(timezone))
    return Markup('<time datetime="{}" title="{}">{} {}</time>').format(
        iso_z(moment), f"{local:%Y-%m-%d %H:%M}", local.day, f"{local:%b}"
    )


@bp.get("/r/<restaurant_id>/usage")
@sign_in_required
def owner_usage(restaurant_id: str) -> ResponseReturnValue:
    """Show today's messages and this month's conversations against their limits, where
    they are heading at this pace, and the last six months."""
    require_restaurant(restaurant_id)
    current = runtime()
    now = request_now()
    found = None
    with current.read_transaction() as session:
        if RESTAURANT_ID.fullmatch(restaurant_id):
            found = usage.usage_with_history(session, current.settings, restaurant_id, now=now)
        if found is None:
            raise PageError(404, "not_found", "There is no such restaurant page.")
        restaurant, history = found
        # The pace of GET /api/usage?include=forecast, through the same function.
        pace = usage_forecasts(session, [restaurant], now)[restaurant_id]
    zone_name = pace.timezone
    allowance = restaurant.allowance
    months = list(reversed(history))
    chart = count_chart(
        [(f"{dt.date(m.year, m.month, 1):%B %Y}", m.conversation_count) for m in months],
        "conversations",
    )
    # The axis names the months only ("Jul" … "Dec"): "2026-07" did not fit a phone.
    chart = replace(chart, labels=[f"{dt.date(m.year, m.month, 1):%b}" for m in months])
    return render_template(
        "owner/usage.html",
        restaurant=restaurant,
        zone=zone_name,
        today=gauge(allowance.daily_limit - allowance.daily_remaining, allowance.daily_limit),
        month=gauge(restaurant.conversations_this_month, allowance.monthly_limit),
        day_pace=day_pace(pace.forecast, restaurant, zone_name),
        month_pace=month_pace(pace.forecast, restaurant),
        history=month_rows(history, zone_name),
        chart=chart,
        owner_pages=OWNER_PAGES,
        restaurant_id=restaurant_id,
    )
