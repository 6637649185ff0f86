"""The Flask application: WhatsApp webhooks, the usage and admin APIs, health, the CLI."""

from __future__ import annotations

import uuid

from flask import Flask, request

from bot.runtime import Runtime
from store.settings import Settings

# Twilio's webhook bodies are a few KiB; anything over this is refused with 413.
MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the application from `settings` (read from the environment when None)."""
    from bot import cli, errors, health, webhook
    from bot.logs import configure_logging, start_log_context
    from usage_api import openapi, usage

    if runtime is None:
        settings = settings or Settings.from_env()
        runtime = Runtime(settings)
    settings = runtime.settings
    configure_logging(settings)

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["runtime"] = runtime

    @app.before_request
    def _new_log_context() -> None:
        start_log_context(request_id=request.headers.get("X-Request-Id") or uuid.uuid4().hex)

    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(usage.bp)
    app.register_blueprint(openapi.bp)
    cli.init_app(app)
    return app
