"""Retries with exponential backoff from the settings; postponed messages are not failures."""

from __future__ import annotations

import logging
import random
import time
import traceback
from typing import Any

import dramatiq
from dramatiq.middleware import Retries as DramatiqRetries

from actors.errors import PermanentError, Postpone, RetryLater
from actors.middleware.failure_logs import describe, expected


class Retries(DramatiqRetries):
    """Dramatiq's Retries, with our delay schedule and three extra rules.

    - `Postpone` re-enqueues the message after its delay without counting an attempt,
      so a job waiting on a rate limit of ours is never dead-lettered for waiting.
    - `RetryLater` with a `delay_ms` is retried after that delay (upstream said when)
      instead of the backoff; it counts as an attempt like any failure.
    - `PermanentError` dead-letters at once (as if listed in every actor's `throws`).

    Each failure it handles is one line: `job <actor> attempt 2 of 4 failed, retrying in
    10000 ms: <error>` — WARNING for an expected failure (`failure_logs`: the worker's
    traceback of it is dropped), INFO for any other (the worker logged it at ERROR with its
    traceback just before) — or `… failed for good` / `… dead after 4 attempts` at WARNING.

    The n-th retry waits `backoff_ms * 2**(n-1)`, jittered by ±20 %, capped at `max_backoff_ms`.

    Parameters:
      max_retries(int): Retries after the first attempt before a message is dead-lettered.
      backoff_ms(int): Delay before the first retry, in milliseconds.
      max_backoff_ms(int): Upper bound of any single delay.
    """

    def __init__(self, *, max_retries: int, backoff_ms: int, max_backoff_ms: int) -> None:
        super().__init__(
            max_retries=max_retries, min_backoff=backoff_ms, max_backoff=max_backoff_ms
        )
        self.backoff_ms = backoff_ms
        self.max_backoff_ms = max_backoff_ms

    def retry_delay_ms(self, retries: int) -> int:
        """Return the delay before retry number `retries + 1`."""
        base = self.backoff_ms * (2 ** min(retries, 32))
        return int(min(base * random.uniform(0.8, 1.2), self.max_backoff_ms))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            return
        if isinstance(exception, Postpone):
            broker.enqueue(message, delay=exception.delay_ms)
            return
        if isinstance(exception, PermanentError):
            message.options["given_up"] = "permanent"
            message.options["traceback"] = traceback.format_exc(limit=30)
            self.logger.warning(
                "job %s failed for good: %s", message.actor_name, describe(exception)
            )
            message.fail()
            return
        actor = broker.get_actor(message.actor_name)
        throws = message.options.get("throws") or actor.options.get("throws")
        if throws and isinstance(exception, throws):
            message.options["given_up"] = "permanent"
            message.fail()
            return
        retries = message.options.setdefault("retries", 0)
        max_retries = message.options.get(
            "max_retries", actor.options.get("max_retries", self.max_retries)
        )
        message.options["retries"] = retries + 1
        message.options["traceback"] = traceback.format_exc(limit=30)
        message.options["requeue_timestamp"] = int(time.time() * 1000)
        if retries >= max_retries:
            self.logger.warning(
                "job %s dead after %d attempts: %s",
                message.actor_name,
                retries + 1,
                describe(exception),
            )
            message.options["given_up"] = "exhausted"
            message.fail()
            target = message.options.get("on_retry_exhausted") or actor.options.get(
                "on_retry_exhausted"
            )
            if target:
                broker.get_actor(target).send(
                    message.asdict(), {"retries": retries, "max_retries": max_retries}
                )
            return
        delay = self.retry_delay_ms(retries)
        if isinstance(exception, RetryLater) and exception.delay_ms is not None:
            delay = exception.delay_ms
        self.logger.log(
            logging.WARNING if expected(exception) else logging.INFO,
            "job %s attempt %d of %d failed, retrying in %d ms: %s",
            message.actor_name,
            retries + 1,
            max_retries + 1,
            delay,
            describe(exception),
        )
        broker.enqueue(message, delay=delay)


def is_last_attempt(broker: dramatiq.Broker, message: Any) -> bool:
    """Return True when a failure of this attempt of `message` will not be retried."""
    retries = next((m for m in broker.middleware if isinstance(m, DramatiqRetries)), None)
    default = retries.max_retries if retries is not None else 0
    actor = broker.get_actor(message.actor_name)
    limit = message.options.get("max_retries", actor.options.get("max_retries", default))
    return int(message.options.get("retries", 0)) >= int(limit)
