"""The operators' Overview: is everything healthy, and what needs attention first."""

from __future__ import annotations

from flask import make_response, render_template
from flask.typing import ResponseReturnValue

from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.charts import outcome_chart
from dashboard.formatting import day_labels
from dashboard.security import operators_only
from operations import overview as overview_model
from usage_api.clock import request_now


@bp.get("/admin/overview")
@operators_only
def overview() -> ResponseReturnValue:
    """Show jobs per hour and day, queues, workers, health, breakers, cache, audit."""
    now = request_now()
    found = overview_model.overview(runtime(), now=now)
    charts = {}
    if found.history is not None:
        charts["hours"] = outcome_chart(
            found.history.hours, [b.start.strftime("%H:00") for b in found.history.hours], 4
        )
        days = found.history.days
        charts["days"] = outcome_chart(days, day_labels([b.start for b in days], 5), 1)
    page = render_template(
        "admin/overview.html",
        overview=found,
        charts=charts,
        thresholds=overview_model,
    )
    # A part that could not be read makes the whole answer a 503 (the page says which).
    return make_response(page, 503 if found.unavailable else 200)
