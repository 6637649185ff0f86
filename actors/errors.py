"""Exceptions actors raise to steer retries (interpreted by `actors.middleware.retries`)."""

from __future__ import annotations

from dramatiq.errors import RateLimitExceeded


class Postpone(RateLimitExceeded):
    """Run this message again after `delay_ms` without counting a failed attempt.

    Raised when a rate limit or concurrency slot is not available: the job is neither
    failed nor dropped, only delayed. (A `RateLimitExceeded` subclass, so Dramatiq's
    worker logs it at debug level rather than as an error.)
    """

    def __init__(self, delay_ms: int, reason: str = "postponed") -> None:
        super().__init__(f"{reason}; retry in {delay_ms} ms")
        self.delay_ms = delay_ms


class RetryLater(Exception):
    """A failed attempt, retried after `delay_ms` when upstream said when, else after the
    usual backoff (`delay_ms` None).

    For a 429's `Retry-After` or an open circuit breaker's cooldown. Unlike `Postpone` it
    counts as an attempt: an upstream that keeps refusing ends in the dead letters like
    any other failure, instead of keeping the job going forever.
    """

    def __init__(self, message: str, *, delay_ms: int | None = None) -> None:
        super().__init__(message)
        self.delay_ms = delay_ms


class PermanentError(Exception):
    """A failure that no retry can fix (bad payload, 4xx from upstream): dead-letter at once."""
