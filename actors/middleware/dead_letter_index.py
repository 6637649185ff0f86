"""Notes every message a worker dead-letters, for the SQL index of dead letters.

Dramatiq moves a failed message to its queue's dead letters when the worker rejects it
(`nack`). Right after, this middleware appends the letter's index row — actor, restaurant,
the final error's class and text, attempts, known only here, from the live exception — to
a Redis list, `<ns>:dead-letters:to-index`, in the same Redis the letter went to. Whoever
reads or acts on dead letters first moves that list into the index
(`actors.dead_letters.index_pending`), and so does the scheduler every few seconds: the
worker's threads never wait on the database for it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from actors.dead_letter_store import index_row, letter_of_message, pending_index_key
from operations.error_classes import error_class, error_class_of_text
from store.timeutil import iso_z, utcnow

logger = logging.getLogger(__name__)


class DeadLetterIndexing(dramatiq.Middleware):
    """Queues the index row of every message a worker dead-letters (Redis broker)."""

    def after_nack(self, broker: dramatiq.Broker, message: Any) -> None:
        if not isinstance(broker, RedisBroker):
            return  # RabbitMQ's dead letters cannot be listed or replayed anyway
        try:
            entry = json.dumps(_row(message), default=iso_z)
            broker.client.rpush(pending_index_key(broker.namespace), entry)
        except (redis.RedisError, TypeError, ValueError) as error:
            logger.warning(
                "dead letter %s not noted for the index (reconciled within a minute): %s",
                message.message_id,
                error,
            )


def _row(message: Any) -> dict[str, Any]:
    options = dict(message.options)
    exception: BaseException | None = getattr(message, "_exception", None)
    if exception is not None:
        kind = error_class(exception)
        last_error: str | None = f"{type(exception).__name__}: {exception}"
    else:
        traceback = str(options.get("traceback") or "").strip()
        last_error = traceback.splitlines()[-1] if traceback else None
        kind = error_class_of_text(last_error)
    # Retries counts the failed attempt itself only when it was the last of its retries.
    retries = int(options.get("retries", 0))
    attempts = retries if options.get("given_up") == "exhausted" else retries + 1
    letter = letter_of_message(
        message,
        queue=message.queue_name,
        redis_id=str(options.get("redis_message_id")),
        dead_lettered_at=utcnow(),
    )
    return index_row(letter, error_class=kind, last_error=last_error, attempts=max(attempts, 1))
