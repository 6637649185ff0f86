"""Event batches: `open → sealed → analyzed` (SPEC §12).

A restaurant's open batch holds its *waiting* events: those whose `batch_id` is NULL. The
webhook only appends events; it never reads or locks a batch row. The open batch's row is
made when something looks at it (the scheduler's check, a seal, the admin list), with the
time of its oldest waiting event as `created_at`.

Sealing a restaurant is one transaction: take its open row (locked, so two sealers
cannot both seal it), assign every waiting event to it with ONE `UPDATE`, mark it sealed
with its event count, and write its `analyze_batch` job row (enqueued after commit, like
the webhook's jobs: a Redis outage defers it to the relay). A batch holds exactly what was
waiting when it was sealed — never split, however many — and an empty one is never
sealed. An event whose transaction commits after the seal's statement simply waits for the
next batch.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import dramatiq
from sqlalchemy import delete, exists, func, literal, literal_column, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import jobs
from insights.models import OPEN, SEALED, ConversationEvent, InsightBatch
from store.dialects import upsert_for
from store.job_kinds import ANALYZE_BATCH
from store.metrics import INSIGHT_BATCHES_SEALED
from store.models import Job

logger = logging.getLogger(__name__)

# A restaurant's open batch: its events not yet in a batch.
WAITING = ConversationEvent.batch_id.is_(None)


class BatchNotFound(LookupError):
    """No batch has that id."""


class BatchStillOpen(ValueError):
    """An open batch cannot be analyzed: it is still taking events."""


def ensure_open(session: Session, restaurant_id: str | None = None) -> None:
    """Give every restaurant (or just `restaurant_id`) that has waiting events an open
    batch row, dated at its oldest waiting event. One statement."""
    open_row = (
        select(InsightBatch.id)
        .where(
            InsightBatch.restaurant_id == ConversationEvent.restaurant_id,
            InsightBatch.status == OPEN,
        )
        .correlate(ConversationEvent)
    )
    conditions = [WAITING, ~exists(open_row)]
    if restaurant_id is not None:
        conditions.append(ConversationEvent.restaurant_id == restaurant_id)
    waiting = (
        select(
            ConversationEvent.restaurant_id,
            literal(OPEN),
            func.min(ConversationEvent.occurred_at),
        )
        .where(*conditions)
        .group_by(ConversationEvent.restaurant_id)
    )
    insert = upsert_for(session.get_bind().dialect.name)(InsightBatch).from_select(
        ["restaurant_id", "status", "created_at"], waiting
    )
    # The partial index's predicate as a literal: with a bound parameter PostgreSQL cannot
    # match it once psycopg prepares the statement (a generic plan).
    session.execute(
        insert.on_conflict_do_nothing(
            index_elements=[InsightBatch.restaurant_id],
            index_where=InsightBatch.status == literal_column(f"'{OPEN}'"),
        )
    )


def waiting_restaurants(
    session: Session,
    *,
    restaurant_id: str | None = None,
    min_events: int | None = None,
    oldest_before: dt.datetime | None = None,
) -> list[str]:
    """Return the restaurants with waiting events; with `min_events`/`oldest_before`, only
    those holding at least that many or waiting since before then (either suffices)."""
    query = select(ConversationEvent.restaurant_id).where(WAITING)
    if restaurant_id is not None:
        query = query.where(ConversationEvent.restaurant_id == restaurant_id)
    query = query.group_by(ConversationEvent.restaurant_id)
    if min_events is not None and oldest_before is not None:
        query = query.having(
            (func.count() >= min_events)
            | (func.min(ConversationEvent.occurred_at) <= oldest_before)
        )
    return list(session.scalars(query.order_by(ConversationEvent.restaurant_id)).all())


@dataclass(frozen=True)
class Sealed:
    """A batch just sealed, and its analysis job (to enqueue after commit)."""

    batch_id: int
    restaurant_id: str
    events: int
    job: Job


def seal_restaurant(session: Session, restaurant_id: str, now: dt.datetime) -> Sealed | None:
    """Seal the restaurant's open batch with everything waiting, in the caller's
    transaction; None when nothing waits (or another sealer just took it)."""
    ensure_open(session, restaurant_id)
    batch_id = session.scalar(
        select(InsightBatch.id)
        .where(InsightBatch.restaurant_id == restaurant_id, InsightBatch.status == OPEN)
        .with_for_update()
    )
    if batch_id is None:
        return None
    taken = session.execute(
        update(ConversationEvent)
        .where(ConversationEvent.restaurant_id == restaurant_id, WAITING)
        .values(batch_id=batch_id)
        .returning(ConversationEvent.occurred_at),
        execution_options={"synchronize_session": False},
    ).all()
    if not taken:
        # Its events went into a batch another sealer committed meanwhile: never empty.
        session.execute(delete(InsightBatch).where(InsightBatch.id == batch_id))
        return None
    moments = [row[0] for row in taken]
    job = jobs.add_job(
        session,
        ANALYZE_BATCH,
        {"batch_id": batch_id, "restaurant_id": restaurant_id},
        restaurant_id=restaurant_id,
    )
    session.execute(
        update(InsightBatch)
        .where(InsightBatch.id == batch_id)
        .values(
            status=SEALED,
            events=len(taken),
            sealed_at=now,
            first_event_at=min(moments),
            last_event_at=max(moments),
            job_id=job.id,
        )
    )
    return Sealed(batch_id, restaurant_id, len(taken), job)


def seal(
    sessions: sessionmaker[Session],
    broker: dramatiq.Broker,
    restaurant_ids: Iterable[str],
    now: dt.datetime,
) -> list[int]:
    """Seal each restaurant's waiting events (one transaction each) and enqueue their
    analysis; return the sealed batch ids."""
    sealed: list[Sealed] = []
    for restaurant_id in restaurant_ids:
        with sessions() as session, session.begin():
            done = seal_restaurant(session, restaurant_id, now)
        if done is not None:
            sealed.append(done)
            INSIGHT_BATCHES_SEALED.inc()
    _enqueue(sessions, broker, [s.job for s in sealed])
    if sealed:
        logger.info(
            "sealed %d batch(es) with %d event(s)", len(sealed), sum(s.events for s in sealed)
        )
    return [s.batch_id for s in sealed]


def seal_due(
    sessions: sessionmaker[Session],
    broker: dramatiq.Broker,
    *,
    max_events: int,
    max_age_s: int,
    now: dt.datetime,
) -> list[int]:
    """The scheduler's check: open every restaurant's batch row, then seal those holding
    `max_events` or more, or waiting longer than `max_age_s`."""
    with sessions() as session, session.begin():
        ensure_open(session)
        due = waiting_restaurants(
            session,
            min_events=max_events,
            oldest_before=now - dt.timedelta(seconds=max_age_s),
        )
    return seal(sessions, broker, due, now)


def seal_now(
    sessions: sessionmaker[Session],
    broker: dramatiq.Broker,
    now: dt.datetime,
    restaurant_id: str | None = None,
) -> list[int]:
    """Seal every restaurant's waiting events (or one restaurant's) whatever their size."""
    with sessions() as session, session.begin():
        due = waiting_restaurants(session, restaurant_id=restaurant_id)
    return seal(sessions, broker, due, now)


@dataclass(frozen=True)
class AnalysisRequest:
    """An analysis job just written, and the status its batch had (`analyzed`: the job
    will run and change nothing)."""

    job: Job
    status: str


def request_analysis(session: Session, batch_id: int) -> AnalysisRequest:
    """Write an `analyze_batch` job for a sealed or analyzed batch (an analyzed one's
    changes nothing); enqueue it after commit.

    Raises:
      BatchNotFound: No such batch.
      BatchStillOpen: The batch is open.
    """
    batch = session.execute(
        select(InsightBatch.restaurant_id, InsightBatch.status)
        .where(InsightBatch.id == batch_id)
        .with_for_update()
    ).first()
    if batch is None:
        raise BatchNotFound(batch_id)
    restaurant_id, status = batch
    if status == OPEN:
        raise BatchStillOpen(batch_id)
    job = jobs.add_job(
        session,
        ANALYZE_BATCH,
        {"batch_id": batch_id, "restaurant_id": restaurant_id},
        restaurant_id=restaurant_id,
    )
    if status == SEALED:
        session.execute(
            update(InsightBatch).where(InsightBatch.id == batch_id).values(job_id=job.id)
        )
    return AnalysisRequest(job, status)


def enqueue_jobs(sessions: sessionmaker[Session], broker: dramatiq.Broker, job: Job) -> None:
    """Hand a committed job to the broker (the relay does it later if that fails)."""
    _enqueue(sessions, broker, [job])


def _enqueue(sessions: sessionmaker[Session], broker: dramatiq.Broker, pending: list[Job]) -> None:
    if not pending:
        return
    enqueued = jobs.enqueue(broker, pending)
    if enqueued:
        with sessions() as session, session.begin():
            jobs.mark_enqueued(session, enqueued)
