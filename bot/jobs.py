"""Tracked jobs written before they are enqueued, so a Redis outage loses none.

The caller adds a `Job` row (status `queued`, `enqueued_at` NULL) in the same transaction
as the data that needs the job; after commit the message is handed to the broker and
`enqueued_at` is set. If the broker is unreachable the row stays un-enqueued and the relay
(`relay_jobs`, run by the scheduler every few seconds and by the worker at start) hands it
over later, with the same message id. Actors are idempotent, so a job relayed twice
(an enqueue that succeeded but whose bookkeeping did not) does no harm.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from typing import Any

import dramatiq
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.job_kinds import JobKind
from store.models import Job
from store.timeutil import utcnow

logger = logging.getLogger(__name__)

# A job not handed to the broker after this long is relayed (its writer gave up or died).
RELAY_AFTER = dt.timedelta(seconds=10)


def add_job(
    session: Session,
    kind: JobKind,
    payload: dict[str, Any],
    *,
    restaurant_id: str | None,
    delay_ms: int | None = None,
) -> Job:
    """Add a queued job row of `kind` (`store.job_kinds`); enqueue it after commit."""
    now = utcnow()
    job = Job(
        id=str(uuid.uuid4()),
        actor=kind.actor,
        queue=kind.queue,
        restaurant_id=restaurant_id,
        status="queued",
        attempts=0,
        progress_done=0,
        progress_total=0,
        payload={"kwargs": payload, "delay_ms": delay_ms},
        created_at=now,
        updated_at=now,
    )
    # A plain INSERT on the connection: this runs inside the webhook's transaction.
    session.connection().execute(
        insert(Job),
        {column.key: getattr(job, column.key) for column in Job.__table__.columns},
    )
    return job


def message_for(job: Job) -> dramatiq.Message[Any]:
    """Return the Dramatiq message of `job` (its id is the job's id)."""
    payload = job.payload or {}
    return dramatiq.Message(
        queue_name=job.queue,
        actor_name=job.actor,
        args=(),
        kwargs=payload.get("kwargs", {}),
        options={},
        message_id=job.id,
        message_timestamp=int(job.created_at.timestamp() * 1000),
    )


def enqueue(broker: dramatiq.Broker, jobs: Iterable[Job]) -> list[str]:
    """Hand `jobs` to the broker; return the ids that made it (the rest wait for the relay)."""
    enqueued = []
    for job in jobs:
        delay = (job.payload or {}).get("delay_ms")
        try:
            broker.enqueue(message_for(job), delay=delay)
        except Exception as error:  # Redis/RabbitMQ down: the relay takes over
            logger.warning(
                "enqueue of job %s (%s) deferred: %s", job.id, job.actor, type(error).__name__
            )
            continue
        enqueued.append(job.id)
    return enqueued


def mark_enqueued(db: Session | Connection, job_ids: list[str]) -> None:
    """Record that the broker has these jobs (one self-contained UPDATE)."""
    if job_ids:
        db.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.enqueued_at.is_(None))
            .values(enqueued_at=utcnow())
        )


def relay_jobs(
    sessions: sessionmaker[Session],
    broker: dramatiq.Broker,
    *,
    older_than: dt.timedelta = RELAY_AFTER,
) -> int:
    """Enqueue jobs written but never handed to the broker; return how many were relayed."""
    cutoff = utcnow() - older_than
    with sessions() as session, session.begin():
        jobs = session.scalars(
            select(Job)
            .where(Job.enqueued_at.is_(None), Job.created_at < cutoff, Job.status == "queued")
            .order_by(Job.created_at)
            .limit(500)
        ).all()
        session.expunge_all()
    if not jobs:
        return 0
    enqueued = enqueue(broker, jobs)
    with sessions() as session, session.begin():
        mark_enqueued(session, enqueued)
    if enqueued:
        logger.info("relay: enqueued %d deferred job(s)", len(enqueued))
    return len(enqueued)
