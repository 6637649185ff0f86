"""Access to the current app's runtime (sessions, Redis, broker, catalog, messenger)."""

from __future__ import annotations

from flask import current_app

from bot.runtime import Runtime


def runtime() -> Runtime:
    """Return the runtime of the current application."""
    return current_app.extensions["runtime"]
