"""Circuit breakers of the catalog API: which merchants fail fast, since when, until when."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.security import operators_only
from operations.overview import BREAKER_OPEN_ALARM, breakers
from usage_api.clock import request_now


@bp.get("/admin/breakers")
@operators_only
def breaker_list() -> ResponseReturnValue:
    """Show every breaker that is not closed, with its restaurants."""
    current = runtime()
    now = request_now()
    with current.read_transaction() as session:
        found = breakers(current, session, now=now)
    return render_template(
        "admin/breakers.html",
        breakers=found,
        now=now,
        alarm=BREAKER_OPEN_ALARM,
        settings=current.settings,
    )
