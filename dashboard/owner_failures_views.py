"""The owner's "Messages that failed" page (SPEC §14): outbound messages that failed for
good, grouped by error code, each with what it means and what to do.

Read through `bot.failed_messages.failure_report` (two statements, whatever the data);
the advice per code is `bot.failure_advice`'s. An operator sees the same page read-only
(there is nothing to act on here anyway).
"""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from bot.context import runtime
from bot.failed_messages import PERIODS, failure_report
from dashboard.blueprint import bp
from dashboard.errors import PageError
from dashboard.owner_views import OWNER_PAGES, require_restaurant
from dashboard.security import sign_in_required
from store.restaurants import RESTAURANT_ID
from usage_api.clock import request_now


def chosen_days() -> int:
    """Return the period picked with `?days=` (7 when absent).

    Raises:
      PageError: 400 `invalid_parameter` for anything but one of `PERIODS`.
    """
    raw = request.args.get("days") or str(PERIODS[0])
    if raw not in {str(days) for days in PERIODS}:
        choices = " or ".join(str(days) for days in PERIODS)
        raise PageError(400, "invalid_parameter", f"days must be {choices}")
    return int(raw)


@bp.get("/r/<restaurant_id>/failures")
@sign_in_required
def owner_failures(restaurant_id: str) -> ResponseReturnValue:
    """Show the period's failed messages by error code, with what to do about each."""
    require_restaurant(restaurant_id)
    days = chosen_days()
    current = runtime()
    report = None
    if RESTAURANT_ID.fullmatch(restaurant_id):
        with current.read_transaction() as session:
            report = failure_report(session, restaurant_id, days=days, now=request_now())
    if report is None:
        raise PageError(404, "not_found", "There is no such restaurant page.")
    return render_template(
        "owner/failures.html",
        report=report,
        zone=report.timezone,
        days=days,
        periods=PERIODS,
        owner_pages=OWNER_PAGES,
        restaurant_id=restaurant_id,
    )
