"""Reading batches (SPEC §12): the admin list, counts by status — what the JSON API, the
dashboard's Batches page and the operations snapshot show. Each a fixed number of
statements, whatever the number of batches or events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from insights.batches import WAITING
from insights.models import ANALYZED, OPEN, SEALED, ConversationEvent, InsightBatch
from store.timeutil import iso_z


@dataclass(frozen=True)
class BatchFilters:
    """Which batches a list shows; None means any."""

    status: str | None = None
    restaurant_id: str | None = None


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
        .where(WAITING, ConversationEvent.restaurant_id.in_(restaurant_ids))
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
    analyzed. Two statements."""
    return {status: counted.batches for status, counted in batch_summary(session).items()}


@dataclass(frozen=True)
class StatusSummary:
    """Batches of one status and the events they hold (None: not counted), and since when
    the oldest of them waits (open: its oldest event; sealed: when it was sealed)."""

    batches: int
    events: int | None
    oldest: dt.datetime | None = None


def batch_summary(session: Session, restaurant_id: str | None = None) -> dict[str, StatusSummary]:
    """Return, per status, how many batches there are and the events waiting in them:
    open — restaurants with waiting events and those events; sealed — batches and events
    waiting for their analysis; analyzed — batches (their events are not summed: that
    would read every batch ever kept). Of every restaurant, or one. Two statements."""
    counts = _counts_by_status(session, restaurant_id)
    waiting = _waiting_totals(session, restaurant_id)
    return {
        OPEN: StatusSummary(waiting.restaurants, waiting.events, waiting.oldest),
        SEALED: StatusSummary(counts[SEALED], waiting.sealed_events, waiting.oldest_sealed),
        ANALYZED: StatusSummary(counts[ANALYZED], None),
    }


def _of_restaurant(restaurant_id: str | None) -> list[Any]:
    return [] if restaurant_id is None else [InsightBatch.restaurant_id == restaurant_id]


def _counts_by_status(session: Session, restaurant_id: str | None) -> dict[str, int]:
    counts = dict.fromkeys((OPEN, SEALED, ANALYZED), 0)
    for status, count in session.execute(
        select(InsightBatch.status, func.count())
        .where(InsightBatch.status != OPEN, *_of_restaurant(restaurant_id))
        .group_by(InsightBatch.status)
    ).all():
        counts[status] = count
    return counts


class _Waiting(NamedTuple):
    restaurants: int
    events: int
    oldest: dt.datetime | None
    sealed_events: int
    oldest_sealed: dt.datetime | None


def _waiting_totals(session: Session, restaurant_id: str | None) -> _Waiting:
    """Return what waits: restaurants with waiting events, those events and the oldest's
    time; events in sealed batches (waiting for their analysis) and the oldest seal."""
    of_sealed = [InsightBatch.status == SEALED, *_of_restaurant(restaurant_id)]
    query = select(
        func.count(func.distinct(ConversationEvent.restaurant_id)),
        func.count(),
        func.min(ConversationEvent.occurred_at),
        select(func.coalesce(func.sum(InsightBatch.events), 0)).where(*of_sealed).scalar_subquery(),
        select(func.min(InsightBatch.sealed_at)).where(*of_sealed).scalar_subquery(),
    ).where(WAITING)
    if restaurant_id is not None:
        query = query.where(ConversationEvent.restaurant_id == restaurant_id)
    restaurants, events, oldest, sealed_events, oldest_sealed = session.execute(query).one()
    return _Waiting(
        int(restaurants or 0), int(events or 0), oldest, int(sealed_events or 0), oldest_sealed
    )
