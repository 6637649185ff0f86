"""Job tracking: keeps a `Job` row per message of a tracked actor (`tracked=True`).

queued → running → succeeded | partial | failed | dead, with attempts, timestamps, the
worker running it, the last error and a result summary; `actors.progress` adds
done/total/step. Listed before `Retries`: Dramatiq runs `after_*` hooks in reverse
order, so it sees whether a failed message will be retried. Rows are written in batches
by `actors.job_state_writer`; a final state reaches a Redis journal no later than the
message's acknowledgement (with the ack itself on our Redis broker, `actors.acks`), and
the relay applies what a killed process or a database outage left there, so it is never
lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import dramatiq

from actors import progress
from actors.acks import JournalingRedisBroker
from actors.errors import Postpone
from actors.job_state_writer import writer
from actors.job_states import JobChange
from bot.logs import start_log_context
from store.timeutil import utcnow

logger = logging.getLogger(__name__)


def worker_id(broker: dramatiq.Broker) -> str:
    """Return this process's worker identity: the Redis broker id, whose heartbeat says
    whether the worker is alive; `host:pid` on brokers without one (RabbitMQ)."""
    broker_id = getattr(broker, "broker_id", None)
    return str(broker_id) if broker_id else f"{socket.gethostname()}:{os.getpid()}"[:64]


class JobTracking(dramatiq.Middleware):
    """Records the life of every message of an actor declared with `tracked=True`."""

    def __init__(self) -> None:
        self._started = threading.local()  # one message at a time per worker thread

    @property
    def actor_options(self) -> set[str]:
        return {"tracked"}

    def _tracked(self, broker: dramatiq.Broker, message: Any) -> bool:
        try:
            return bool(broker.get_actor(message.actor_name).options.get("tracked"))
        except dramatiq.errors.ActorNotFound:
            return False

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        # A malformed message's kwargs may be anything (MessageShape fails it next).
        kwargs = message.kwargs if isinstance(message.kwargs, dict) else {}
        start_log_context(job_id=message.message_id, restaurant_id=kwargs.get("restaurant_id"))
        if not self._tracked(broker, message):
            return
        progress.begin(message.message_id)
        self._started.at = time.perf_counter()
        now = utcnow()
        running = {
            "status": "running",
            "finished_at": None,
            "updated_at": now,
            "worker_id": worker_id(broker),
        }
        if not message.options.get("retries"):
            # `startedAt` is the job's first start: a retry keeps it.
            running["started_at"] = now
        # The webhook writes the row before it enqueues; a message sent any other way
        # (`.send()` from a shell, a test) gets its row here.
        row = {
            "actor": message.actor_name,
            "queue": message.queue_name.removesuffix(".DQ"),
            "restaurant_id": _restaurant_of(kwargs),
            "payload": {"kwargs": kwargs},
            "created_at": now,
            "enqueued_at": now,
        }
        writer.submit(JobChange(message.message_id, running, row=row))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if not self._tracked(broker, message):
            return
        report = progress.end(message.message_id)
        now = utcnow()
        values: dict[str, Any] = {"updated_at": now, "worker_id": None}
        attempts = 0
        if isinstance(exception, Postpone):
            values.update(status="queued", started_at=None)
        else:
            attempts = 1
            if report.result is not None:
                values["result"] = report.result
            if exception is None:
                values.update(status="succeeded", finished_at=now, error=None)
            else:
                values["error"] = f"{type(exception).__name__}: {exception}"[:2000]
                given_up = message.options.get("given_up")
                if given_up == "exhausted":
                    values.update(status="dead", finished_at=now)
                elif given_up or message.failed:
                    values.update(status="failed", finished_at=now)
                else:
                    values["status"] = "partial" if report.partial else "queued"
        # In the Redis journal when the message is acknowledged, so never lost; stored
        # in the database a few milliseconds later.
        change = JobChange(message.message_id, values, attempts)
        writer.submit(change, wait=not _journal(broker, message, change))
        elapsed_ms = (
            time.perf_counter() - getattr(self._started, "at", time.perf_counter())
        ) * 1000
        # Successes at DEBUG: actors log their own line (SPEC §5.7: one line per job). A
        # failed attempt that will be retried at INFO: `Retries` logs why, and when.
        if exception is None or isinstance(exception, Postpone):
            level = logging.DEBUG
        elif values["status"] in ("queued", "partial"):
            level = logging.INFO
        else:
            level = logging.WARNING
        logger.log(level, "job %s %s %.0fms", message.actor_name, values["status"], elapsed_ms)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        writer.flush()


def _journal(broker: dramatiq.Broker, message: Any, change: JobChange) -> bool:
    """Put a final `change` in the journal; False when Redis cannot take it.

    On our Redis broker the entry goes with the message's acknowledgement (one round
    trip); otherwise (RabbitMQ, a broker on another Redis) it is one `HSET` now.
    """
    redis_message_id = message.options.get("redis_message_id")
    if (
        isinstance(broker, JournalingRedisBroker)
        and redis_message_id
        and broker.journal_on_ack(redis_message_id, change)
    ):
        return True
    return writer.journal(change)


def _restaurant_of(kwargs: dict[str, Any]) -> str | None:
    value = kwargs.get("restaurant_id")
    return str(value) if value is not None else None
