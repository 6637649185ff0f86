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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from sqlalchemy import delete, exists, func, literal, literal_column, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import jobs
from insights.models import ANALYZED, OPEN, SEALED, ConversationEvent, InsightBatch
from store.dialects import upsert_for
from store.job_kinds import ANALYZE_BATCH
from store.metrics import INSIGHT_BATCHES_SEALED
from store.models import Job
from store.timeutil import iso_z

logger = logging.getLogger(__name__)

_waiting = ConversationEvent.batch_id.is_(None)


class BatchNotFound(LookupError):
    """No batch has that id."""


class BatchStillOpen(ValueError):
    """An open batch cannot be analyzed: it is still taking events."""


@dataclass(frozen=True)
class BatchFilters:
    """Which batches a list shows; None means any."""

    status: str | None = None
    restaurant_id: str | None = None


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
    conditions = [_waiting, ~exists(open_row)]
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
    query = select(ConversationEvent.restaurant_id).where(_waiting)
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
        .where(ConversationEvent.restaurant_id == restaurant_id, _waiting)
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


def request_analysis(session: Session, batch_id: int) -> Job:
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
    return job


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


def batch_page(
    session: Session, filters: BatchFilters, *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """Return the number of matching batches and one page of them as the API shows them,
    newest first; an open batch's `events` is what waits now. Three statements."""
    conditions = []
    if filters.status is not None:
        conditions.append(InsightBatch.status == filters.status)
    if filters.restaurant_id is not None:
        conditions.append(InsightBatch.restaurant_id == filters.restaurant_id)
    total = session.scalar(select(func.count()).select_from(InsightBatch).where(*conditions))
    rows = session.scalars(
        select(InsightBatch)
        .where(*conditions)
        .order_by(InsightBatch.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    waiting = _waiting_counts(session, sorted({b.restaurant_id for b in rows if b.status == OPEN}))
    items = [
        batch_json(b, waiting.get(b.restaurant_id, 0) if b.status == OPEN else b.events)
        for b in rows
    ]
    return total or 0, items


def _waiting_counts(session: Session, restaurant_ids: Sequence[str]) -> dict[str, int]:
    if not restaurant_ids:
        return {}
    rows = session.execute(
        select(ConversationEvent.restaurant_id, func.count())
        .where(_waiting, ConversationEvent.restaurant_id.in_(restaurant_ids))
        .group_by(ConversationEvent.restaurant_id)
    ).all()
    return {restaurant_id: count for restaurant_id, count in rows}


def batch_json(batch: InsightBatch, events: int) -> dict[str, Any]:
    """Return the API's batch object (SPEC §12)."""
    return {
        "id": batch.id,
        "restaurantId": batch.restaurant_id,
        "status": batch.status,
        "events": events,
        "createdAt": iso_z(batch.created_at),
        "sealedAt": iso_z(batch.sealed_at),
        "analyzedAt": iso_z(batch.analyzed_at),
        "jobId": batch.job_id,
    }


def batch_counts(session: Session) -> dict[str, int]:
    """Return how many batches are open (restaurants with waiting events), sealed and
    analyzed."""
    counts = dict.fromkeys((OPEN, SEALED, ANALYZED), 0)
    for status, count in session.execute(
        select(InsightBatch.status, func.count())
        .where(InsightBatch.status != OPEN)
        .group_by(InsightBatch.status)
    ).all():
        counts[status] = count
    counts[OPEN] = (
        session.scalar(
            select(func.count(func.distinct(ConversationEvent.restaurant_id))).where(_waiting)
        )
        or 0
    )
    return counts
