"""Per request: a request id (log context and `X-Request-Id`), one log line, webhook latency.

The request id is the caller's `X-Request-Id` when it sends a sane one, else a new one;
every log line of the request carries it, and the response returns it. The request line
names the path without its query string (nothing secret ever reaches the log that way).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from bot.logs import current_log_context, start_log_context
from store.metrics import WEBHOOK_SECONDS

logger = logging.getLogger("bot.requests")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Probes and scrapes are logged at DEBUG: they would drown the other lines.
_QUIET_PATHS = ("/healthz", "/readyz", "/metrics")


def _begin() -> None:
    offered = request.headers.get("X-Request-Id", "")
    request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    start_log_context(request_id=request_id)
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
    request_id = current_log_context().get("request_id")
    if request_id:
        response.headers["X-Request-Id"] = request_id
    rule = request.url_rule.rule if request.url_rule is not None else None
    if rule is not None and rule.startswith("/whatsapp/"):
        WEBHOOK_SECONDS.labels(rule, str(response.status_code)).observe(elapsed)
    level = logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO
    logger.log(
        level,
        "%s %s %d %.1fms",
        request.method,
        request.path,
        response.status_code,
        elapsed * 1000,
    )
    return response


def init_app(app: Flask) -> None:
    """Install the request id, the request log line and the webhook latency histogram."""
    app.before_request(_begin)
    app.after_request(_finish)
