"""A restaurant's own pages (SPEC §14), for its owner's PAT session or, read-only, an
operator: Usage now; Insights, Jobs, Failures and Alerts join the navigation as their
views are added (`OWNER_PAGES`). Another restaurant's address is `404` to an owner."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.charts import count_chart, gauge
from dashboard.errors import PageError
from dashboard.security import sign_in_required, signed_in
from store import usage
from store.restaurants import RESTAURANT_ID, timezones_of
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


@bp.get("/r/<restaurant_id>/usage")
@sign_in_required
def owner_usage(restaurant_id: str) -> ResponseReturnValue:
    """Show today's messages and this month's conversations against their limits, and
    the last six months."""
    require_restaurant(restaurant_id)
    current = runtime()
    found = None
    with current.read_transaction() as session:
        if RESTAURANT_ID.fullmatch(restaurant_id):
            found = usage.usage_with_history(
                session, current.settings, restaurant_id, now=request_now()
            )
        zone = timezones_of(session, [restaurant_id]).get(restaurant_id, "UTC")
    if found is None:
        raise PageError(404, "not_found", "There is no such restaurant page.")
    restaurant, history = found
    allowance = restaurant.allowance
    months = list(reversed(history))
    return render_template(
        "owner/usage.html",
        restaurant=restaurant,
        zone=zone,
        today=gauge(allowance.daily_limit - allowance.daily_remaining, allowance.daily_limit),
        month=gauge(restaurant.conversations_this_month, allowance.monthly_limit),
        history=history,
        chart=count_chart(
            [(f"{m.year}-{m.month:02d}", m.conversation_count) for m in months], "conversations"
        ),
        owner_pages=OWNER_PAGES,
        restaurant_id=restaurant_id,
    )
