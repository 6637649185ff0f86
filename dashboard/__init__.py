"""The dashboard (SPEC §14): web pages for operators and restaurant owners.

Pages only: every figure comes from the same domain functions as the JSON API (the
usage read model, the job read model, the dead-letter index, the operations snapshot,
the insight batches).
Rendered on the server; a little JavaScript only polls job progress.
"""

from __future__ import annotations

from flask import Flask, redirect
from werkzeug.wrappers import Response

from dashboard import (
    auth_views,
    batch_views,
    breaker_views,
    dead_letter_views,
    formatting,
    job_views,
    overview_views,
    owner_alerts_views,
    owner_failures_views,
    owner_insights_views,
    owner_jobs_views,
    owner_views,
    restaurant_views,
)
from dashboard.blueprint import bp
from dashboard.security import CONTENT_SECURITY_POLICY

# Imported for their routes on `bp`.
VIEW_MODULES = (
    auth_views,
    overview_views,
    restaurant_views,
    job_views,
    dead_letter_views,
    batch_views,
    breaker_views,
    owner_views,
    owner_insights_views,
    owner_jobs_views,
    owner_failures_views,
    owner_alerts_views,
)


def _to_dashboard() -> Response:
    answer = redirect("/dashboard/", 302)
    answer.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    answer.headers["X-Frame-Options"] = "DENY"
    answer.headers["Referrer-Policy"] = "same-origin"
    return answer


def init_app(app: Flask) -> None:
    """Register the dashboard's pages, its filters, and `/` → `/dashboard/`."""
    formatting.init_app(app)
    app.register_blueprint(bp)
    app.add_url_rule("/", "root", _to_dashboard)
