"""The Flask application: WhatsApp webhooks, the usage and admin APIs, health, the CLI."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click
from flask import Flask, request
from flask.cli import ScriptInfo
from flask.typing import ResponseReturnValue

from store import run_record
from store.disconnects import once_more_on_disconnect
from store.settings import Settings, settings_or_exit

if TYPE_CHECKING:
    # Imported when the app is built, not with the package: domain packages the runtime
    # wires in (alerts) import `bot.jobs` and friends, which runs this file first.
    from bot.runtime import Runtime

# Twilio's webhook bodies are a few KiB; anything over this is refused with 413.
MAX_BODY_BYTES = 64 * 1024


class BotApp(Flask):
    """Flask, where a view whose first database connection turned out closed by the server
    (a failover, a restarted PgBouncer) runs once more before it answers 503
    (`store.disconnects` decides when that is safe)."""

    def dispatch_request(self) -> ResponseReturnValue:
        return once_more_on_disconnect(
            super().dispatch_request, what=f"{request.method} {request.path}"
        )


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the application from `settings` (read from the environment when None)."""
    import dashboard
    from bot import cli, errors, health, requests_log, series_at_zero, telemetry, webhook
    from bot.logs import configure_logging
    from bot.runtime import Runtime
    from usage_api import (
        alerts,
        audit,
        batches,
        dead_letters,
        import_views,
        insights,
        jobs,
        metrics,
        openapi,
        usage,
    )

    if runtime is None:
        settings = settings or settings_or_exit(_command_line_environment())
        runtime = Runtime(settings)
    settings = runtime.settings
    configure_logging(settings)

    app = BotApp(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["runtime"] = runtime

    requests_log.init_app(app)  # first: every later hook logs with the request id
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(usage.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(dead_letters.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(import_views.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(audit.bp)
    dashboard.init_app(app)
    app.register_blueprint(insights.bp)
    app.register_blueprint(batches.bp)
    cli.init_app(app)
    series_at_zero.init_app(app)
    telemetry.start_publishing(runtime)
    return app


def _command_line_environment() -> dict[str, str] | None:
    """Under the `flask` command, the environment with what a running `make run` recorded
    for the settings it leaves unset (see `store.run_record`); else None (as it is)."""
    context = click.get_current_context(silent=True)
    if context is None or context.find_object(ScriptInfo) is None:
        return None
    return run_record.fill_in(os.environ)
