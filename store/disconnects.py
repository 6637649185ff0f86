"""A unit of work whose first connection the database had closed runs once more, on a fresh one.

Pool pre-ping is off (it costs a round trip per checkout, on every request). So a pooled
connection that the server closed — a failover, a restarted PgBouncer,
`pg_terminate_backend` — is found dead by the first statement that uses it: SQLAlchemy
raises a `DBAPIError` with `connection_invalidated` set, has already discarded that
connection, and marks every connection its pool opened before then for replacement, so
the next checkout connects afresh.

`once_more_on_disconnect` runs a unit of work — a web request, an actor message — once
more when that error hit the FIRST connection the unit took from the pool, while the unit
still held it. Nothing the unit did in the database can remain: the server ended that
connection's transaction with it, and no other connection of the unit existed. A second
failure is raised as before (the web answers `503 unavailable`, a job attempt fails). Once
a connection of the unit went back to the pool healthy (a transaction ended: perhaps
committed), or the unit took a second one, it is never run again: only the caller could
know what a repeat would do.

The contract units keep (every request and actor here does): nothing irreversible outside
the database before the unit's first connection goes back to the pool — each begins by
reading who or what it is about (the credential, the restaurant, the customer row, the
job's rows), and the webhook's Redis allowance is keyed by MessageSid — and no commit
followed by more statements on that first connection: a Session gives its connection back
at each commit, and a connection whose statements commit one by one (autocommit) calls
`mark_written()`.

Cost when nothing fails: a counter bumped on each checkout and checkin (pool events, not
per statement), and a context variable set per unit; no round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Unit:
    __slots__ = ("checkouts", "settled")

    def __init__(self) -> None:
        self.checkouts = 0  # connections taken from the pool
        self.settled = False  # a connection went back healthy, or the unit wrote for good


_current: ContextVar[_Unit | None] = ContextVar("database_unit_of_work", default=None)


def watch(engine: Engine) -> None:
    """Let units of work see the connections they take from `engine`'s pool."""
    if not event.contains(engine.pool, "checkout", _checked_out):
        event.listen(engine.pool, "checkout", _checked_out)
        event.listen(engine.pool, "checkin", _checked_in)


def _checked_out(*_: Any) -> None:
    unit = _current.get()
    if unit is not None:
        unit.checkouts += 1


def _checked_in(dbapi_connection: Any, _record: Any) -> None:
    # An invalidated connection comes back as None: that is the failure itself.
    if dbapi_connection is not None:
        unit = _current.get()
        if unit is not None:
            unit.settled = True


def mark_written() -> None:
    """Tell the current unit of work (if any) that it wrote for good: it is not run again."""
    unit = _current.get()
    if unit is not None:
        unit.settled = True


def is_disconnect(error: BaseException) -> bool:
    """Return True when `error` says the database connection was closed under us."""
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def once_more_on_disconnect(work: Callable[[], T], *, what: str) -> T:
    """Run `work()`; run it once more if its first connection turned out to be closed.

    Inside another unit, `work` is part of it and runs once: the outer unit decides.

    Parameters:
      work: The unit of work (a view, an actor's function).
      what: Names the unit in the log line (`POST /whatsapp/webhook`, `job deliver_message`).

    Raises:
      DBAPIError: The second run's, or the first's when it cannot be run again.
    """
    if _current.get() is not None:
        return work()
    unit = _Unit()
    token = _current.set(unit)
    try:
        try:
            return work()
        except DBAPIError as error:
            if unit.settled or unit.checkouts > 1 or not is_disconnect(error):
                raise
            logger.warning(
                "%s: the database had closed its connection (%s); running it once more "
                "on a fresh connection",
                what,
                _first_line(error.orig),
            )
        unit.checkouts = 0
        return work()
    finally:
        _current.reset(token)


def _first_line(error: BaseException | None) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
