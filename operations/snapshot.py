"""What an operator looks at, read part by part: queues, jobs, breakers, cache, workers.

`operations_snapshot` is `GET /api/admin/metrics` (and the gauges of `/metrics`); the
dashboard's Overview (`operations.overview`) reads the same parts through `PartReader`.
Each part is read on its own: a part whose store (Redis, the broker, the database) is
unreachable is `None` and named in `unavailable`, and the others are still answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import dramatiq.errors
import redis
from sqlalchemy.exc import SQLAlchemyError

from actors import queues
from bot import telemetry
from bot.runtime import Runtime
from insights.batch_reads import batch_counts
from store.job_kinds import declared_queues
from store.jobs import job_stats
from store.timeutil import iso_z, utcnow

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Queues shown even while empty (a queue appears in Redis only once it had a message).
KNOWN_QUEUES = declared_queues()
BREAKER_STATES = ("open", "half_open")

# What a part may fail with when Redis, the broker or the database is down.
UNREACHABLE = (redis.RedisError, SQLAlchemyError, OSError, dramatiq.errors.BrokerConnectionError)


class PartReader:
    """Reads parts of a snapshot, each on its own; remembers which could not be read."""

    def __init__(self) -> None:
        self.unavailable: list[str] = []

    def __call__(self, part: str, reader: Callable[[], T]) -> T | None:
        """Return `reader()`, or None (and `part` noted as unavailable) when its store is
        unreachable."""
        try:
            return reader()
        except UNREACHABLE as error:
            logger.warning("operations: %s unavailable (%s)", part, error)
            self.unavailable.append(part)
            return None


def queue_depths(current: Runtime) -> dict[str, dict[str, int]]:
    """Return each queue's ready, in-flight, delayed and dead messages."""
    return queues.queue_depths(current.broker, KNOWN_QUEUES)


def operations_snapshot(current: Runtime) -> dict[str, Any]:
    """Return the operations snapshot of `GET /api/admin/metrics`."""
    broker = current.broker
    read = PartReader()

    def jobs_by_status() -> dict[str, Any]:
        with current.read_transaction() as session:
            return job_stats(session)

    def batches_by_status() -> dict[str, int]:
        with current.read_transaction() as session:
            return batch_counts(session)

    depths = read("queues", lambda: queue_depths(current))
    jobs = read("jobs", jobs_by_status)
    breakers = read("breakers", lambda: telemetry.breaker_states(current))
    orders_breakers = (
        read("breakers", lambda: telemetry.orders_breaker_states(current))
        if breakers is not None
        else None
    )
    cache = read("cache", lambda: telemetry.cache_hit_rates(current))
    workers = read("workers", lambda: queues.heartbeats(broker))
    batches = read("batches", batches_by_status)
    unavailable = read.unavailable
    return {
        "generatedAt": iso_z(utcnow()),
        "broker": type(broker).__name__,
        "unavailable": unavailable,
        "queues": depths,
        "deadLetters": None if depths is None else sum(d["dead"] for d in depths.values()),
        "jobs": jobs,
        "oldestQueuedJob": None if jobs is None else jobs["oldestQueued"],
        "breakers": (
            None
            if breakers is None
            # `orders`: the breakers of the orders endpoint (imports), apart from the menu's.
            else {"available": True, "tripped": breakers, "orders": orders_breakers}
        ),
        "cache": cache,
        "workers": workers,
        "batches": batches,
    }
