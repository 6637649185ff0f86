"""One "now" per request, from a clock that tests can replace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import current_app, g

from store.timeutil import utcnow

# `app.config[CLOCK]` may hold a callable returning an aware UTC datetime (tests freeze
# time with it); without one the real clock is used.
CLOCK = "CLOCK"


def request_now() -> dt.datetime:
    """Return the current time, the same instant for the whole request."""
    if "request_now" not in g:
        clock: Callable[[], dt.datetime] = current_app.config.get(CLOCK) or utcnow
        g.request_now = clock()
    return g.request_now
