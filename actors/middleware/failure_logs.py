"""One WARNING line per expected failure of a job; a traceback only for what nobody expected.

Dramatiq's worker logs every exception an actor raises at ERROR with its traceback, except
`Retry` and rate limits. During a catalog outage that is one traceback per retry of every
bootstrap — retries that are expected and handled. Here a failure is *expected* when it
was classified where it happened: our `RetryLater`/`PermanentError`/`Postpone` family,
a `CatalogError` (upstream failure, throttled, breaker open, rejected), a retryable
Twilio send (`SendFailed`, a Dramatiq `Retry`), or a backing service out of reach (the
database or Redis). For those the worker's ERROR record is dropped, and `Retries` writes
the one WARNING line that says what happened and what happens next (`job <actor> attempt
1 of 4 failed, retrying in 5000 ms: <error>`). Anything else keeps Dramatiq's ERROR line
with its traceback.
"""

from __future__ import annotations

import logging

import dramatiq
import redis
from dramatiq.errors import RateLimitExceeded, Retry
from sqlalchemy.exc import OperationalError

from actors.errors import PermanentError, RetryLater
from catalog.errors import CatalogError

EXPECTED: tuple[type[BaseException], ...] = (
    RetryLater,
    PermanentError,
    RateLimitExceeded,  # Postpone
    Retry,  # SendFailed: a retryable Twilio error
    CatalogError,
    OperationalError,  # the database out of reach, or a connection it closed
    redis.ConnectionError,
    redis.TimeoutError,
)

# Where Dramatiq's worker logs "Failed to process message … with unhandled exception."
WORKER_LOGGER = "dramatiq.worker.WorkerThread"


def expected(error: BaseException | None) -> bool:
    """Return True when `error` is a classified failure that needs no traceback."""
    return isinstance(error, EXPECTED)


def describe(error: BaseException) -> str:
    """Return `Type: first line of the message`, short enough for one log line."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= 500 else text[:499] + "…"


class _DropExpectedFailures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (record.levelno >= logging.ERROR and expected(error))


class ExpectedFailureLogs(dramatiq.Middleware):
    """Drops the worker's traceback of expected failures (`Retries` logs them in one line)."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        worker_logger = logging.getLogger(WORKER_LOGGER)
        if not any(isinstance(f, _DropExpectedFailures) for f in worker_logger.filters):
            worker_logger.addFilter(_DropExpectedFailures())
