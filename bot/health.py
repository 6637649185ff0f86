"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from bot.context import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Answer 200 while the process is up (no I/O)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Answer 200 when the database and Redis answer, else 503 naming what is down."""
    current = runtime()
    checks: dict[str, str] = {}
    try:
        with current.read_transaction() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unreachable: {type(error).__name__}"
    if current.settings.redis_url is None:
        checks["redis"] = "unreachable: REDIS_URL is not set"
    else:
        try:
            current.redis.ping()
            checks["redis"] = "ok"
        except Exception as error:
            checks["redis"] = f"unreachable: {type(error).__name__}"
    down = sorted(name for name, state in checks.items() if state != "ok")
    if down:
        body = {
            "status": "unavailable",
            "checks": checks,
            "error": {"code": "unavailable", "message": f"not ready: {', '.join(down)} down"},
        }
        return jsonify(body), 503
    return jsonify({"status": "ok", "checks": checks})
