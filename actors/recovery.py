"""Bringing back the work of workers that died without finishing it (Redis broker).

Dramatiq's Redis broker re-queues a dead worker's unacknowledged messages only during
"maintenance", which runs on a random few of its commands, and only for the queue of that
command; after a SIGKILL the messages can wait many minutes. `sweep_dead_workers` finds
workers whose heartbeat is older than `WORKER_HEARTBEAT_TIMEOUT_MS`, and runs maintenance on
exactly the queues they held messages of. `recover_lost_jobs` then corrects the job rows
those workers left `running`: back to `queued` (their message is back in its queue), or
to the final state the worker had journaled before it died.

`requeue_stranded_jobs` covers a Redis that came back empty (a restart or failover
without persistence): the messages it held are gone, and their job rows would stay
`queued` for ever. Jobs queued for more than `STRANDED_AFTER` whose message is in none of
their queue's hashes are enqueued again, with their own ids. A job merely waiting in a
long backlog still has its message there and is left alone.

On RabbitMQ none of this is needed: the server redelivers a consumer's unacknowledged
messages as soon as its connection drops, keeps its queues on disk, and the next attempt
rewrites the row.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from sqlalchemy import select, update

from actors.job_states import JobStateStore
from bot.jobs import enqueue
from bot.runtime import Runtime
from store.models import Job
from store.timeutil import utcnow

logger = logging.getLogger(__name__)

# A job queued this long is checked for a message Redis may have lost.
STRANDED_AFTER = dt.timedelta(minutes=10)
# Jobs checked in one pass (the oldest first).
MAX_REQUEUED = 5000
_MESSAGE_ID = re.compile(rb'"message_id"\s*:\s*"([^"]+)"')


def dead_workers(broker: RedisBroker) -> list[str]:
    """Return the ids of workers whose last heartbeat is older than the timeout."""
    key = f"{broker.namespace}:__heartbeats__"
    cutoff = current_millis() - broker.heartbeat_timeout
    return [_text(w) for w in broker.client.zrangebyscore(key, 0, cutoff)]


def live_workers(broker: RedisBroker) -> set[str]:
    """Return the ids of workers that sent a heartbeat within the timeout."""
    key = f"{broker.namespace}:__heartbeats__"
    cutoff = current_millis() - broker.heartbeat_timeout
    return {_text(w) for w in broker.client.zrangebyscore(key, cutoff, "+inf")}


def sweep_dead_workers(broker: dramatiq.Broker) -> int:
    """Re-queue messages held by dead workers; return how many queues were swept."""
    if not isinstance(broker, RedisBroker):
        return 0  # RabbitMQ redelivers a dead consumer's unacked messages by itself
    queues: set[str] = set()
    for worker in dead_workers(broker):
        prefix = f"{broker.namespace}:__acks__.{worker}."
        for key in broker.client.scan_iter(match=prefix + "*", count=1000):
            queues.add(_text(key)[len(prefix) :])
    dispatch = broker.scripts["dispatch"]
    for queue_name in sorted(queues):
        dispatch(
            keys=[broker.namespace],
            args=[
                "qsize",  # a read-only command; we only want the maintenance pass
                current_millis(),
                queue_name,
                broker.broker_id,
                broker.heartbeat_timeout,
                broker.dead_message_ttl,
                1,  # do maintenance
                broker._max_unpack_size(),
            ],
        )
    if queues:
        logger.warning("recovery: re-queued dead workers' messages on %s", ", ".join(queues))
    return len(queues)


def requeue_stranded_jobs(runtime: Runtime, broker: dramatiq.Broker) -> int:
    """Enqueue again the jobs queued for long whose message Redis no longer holds; return
    how many."""
    if not isinstance(broker, RedisBroker):
        return 0
    now = utcnow()
    cutoff = now - STRANDED_AFTER
    with runtime.sessions() as session:
        candidates = session.scalars(
            select(Job)
            .where(Job.status == "queued", Job.enqueued_at < cutoff, Job.updated_at < cutoff)
            .order_by(Job.created_at)
            .limit(MAX_REQUEUED)
        ).all()
        session.expunge_all()
    if not candidates:
        return 0
    held = _held_message_ids(broker, {job.queue for job in candidates})
    requeued = enqueue(broker, [job for job in candidates if job.id not in held])
    if requeued:
        with runtime.transaction() as session:
            session.execute(update(Job).where(Job.id.in_(requeued)).values(updated_at=now))
        logger.warning(
            "recovery: %d queued job(s) whose message Redis no longer held enqueued again",
            len(requeued),
        )
    return len(requeued)


def _held_message_ids(broker: RedisBroker, queues: set[str]) -> set[str]:
    """Return the ids of every message Redis holds for `queues`: waiting, delayed, or
    fetched by a worker and not yet acknowledged (all stay in the `.msgs` hashes)."""
    held = set()
    for queue in queues:
        for suffix in (".msgs", ".DQ.msgs"):
            key = f"{broker.namespace}:{queue}{suffix}"
            for _, raw in broker.client.hscan_iter(key, count=1000):
                found = _MESSAGE_ID.search(raw)
                if found:
                    held.add(found.group(1).decode())
    return held


def recover_lost_jobs(runtime: Runtime, broker: dramatiq.Broker) -> int:
    """Correct job rows left `running` by dead workers; return how many were corrected."""
    if not isinstance(broker, RedisBroker):
        return 0
    with runtime.read_transaction() as session:
        running = session.execute(
            select(Job.id, Job.worker_id).where(Job.status == "running", Job.worker_id.is_not(None))
        ).all()
    if not running:
        return 0
    alive = live_workers(broker)
    lost = [(job_id, worker) for job_id, worker in running if worker not in alive]
    states = JobStateStore(runtime.engine, runtime.redis, runtime.keys)
    now = utcnow()
    corrected = 0
    for job_id, worker in lost:
        if states.apply_journaled(job_id):
            # It finished, and its process died before the database had the final state.
            corrected += 1
            continue
        with runtime.transaction() as session:
            result = session.connection().execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.worker_id == worker)
                .values(
                    status="queued",
                    worker_id=None,
                    updated_at=now,
                    error=f"worker {worker} stopped during the job; its message was re-queued",
                )
            )
            corrected += result.rowcount
    if corrected:
        logger.warning("recovery: corrected %d job(s) left running by dead workers", corrected)
    return corrected


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else value
