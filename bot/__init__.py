"""The Flask application: WhatsApp webhooks, the usage and admin APIs, health, the CLI."""

from __future__ import annotations

from flask import Flask

from bot.runtime import Runtime
from store.settings import Settings, settings_or_exit

# Twilio's webhook bodies are a few KiB; anything over this is refused with 413.
MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the application from `settings` (read from the environment when None)."""
    from bot import cli, errors, health, requests_log, telemetry, webhook
    from bot.logs import configure_logging
    from usage_api import batches, dead_letters, insights, jobs, metrics, openapi, usage

    if runtime is None:
        settings = settings or settings_or_exit()
        runtime = Runtime(settings)
    settings = runtime.settings
    configure_logging(settings)

    app = Flask(__name__)
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
    app.register_blueprint(insights.bp)
    app.register_blueprint(batches.bp)
    cli.init_app(app)
    telemetry.start_publishing(runtime)
    return app
