"""Every Prometheus series whose labels are known at start-up, created at 0.

The label sets come from where they are declared: the tracked actors (`store.job_kinds`), the
app's `/whatsapp/*` routes, and the send failures `bot.send_errors` names itself (Twilio's
own error codes appear with their first occurrence).
"""

from __future__ import annotations

from flask import Flask

from bot.send_errors import TRANSPORT_CODES
from store import metrics
from store.job_kinds import declared_kinds


def init_app(app: Flask) -> None:
    """Create the known series at 0 (call after every blueprint is registered)."""
    routes = sorted({r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/whatsapp/")})
    metrics.start_at_zero(
        actors=[kind.actor for kind in declared_kinds()],
        webhook_routes=routes,
        send_failure_codes=TRANSPORT_CODES,
    )
