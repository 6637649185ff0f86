"""Access to the current app's runtime and a per-request database session."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from bot.runtime import Runtime


def runtime() -> Runtime:
    """Return the runtime of the current application."""
    return current_app.extensions["runtime"]


def db_session() -> Session:
    """Return this request's session (one per request, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = runtime().sessions()
    return g.db_session


def close_db_session(_exc: BaseException | None = None) -> None:
    """Close the request's session, rolling back anything left uncommitted."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
