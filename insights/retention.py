"""What the scheduler's cleanup removes of the insights pipeline (SPEC §12).

- Events are kept `EVENT_RETENTION_DAYS` (90): a batch whose newest event is older goes,
  with its events. Per-conversation funnel state goes after as long without a change.
- Unrecognised texts expire with message bodies (`MESSAGE_BODY_RETENTION_DAYS`), their
  aggregates included: the events, and the per-hour text counts of hours that ended before
  the cutoff. Every other aggregate is kept forever.

Each function does one bounded chunk and returns how much it removed (0: nothing left),
so no transaction holds locks for long.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, literal_column, select, tuple_
from sqlalchemy.orm import Session

from insights.events import UNRECOGNISED_TEXT
from insights.models import (
    OPEN,
    ConversationEvent,
    ConversationFunnel,
    HourlyText,
    InsightBatch,
)
from store.periods import utc_hour

CHUNK = 1000
BATCH_CHUNK = 20


def delete_old_batches(
    session: Session, *, older_than: dt.datetime, chunk: int = BATCH_CHUNK
) -> int:
    """Delete up to `chunk` batches whose newest event is older than `older_than`, with
    their events; return how many batches went."""
    ids = session.scalars(
        select(InsightBatch.id)
        .where(InsightBatch.status != OPEN, InsightBatch.last_event_at < older_than)
        .limit(chunk)
    ).all()
    if not ids:
        return 0
    session.execute(delete(ConversationEvent).where(ConversationEvent.batch_id.in_(ids)))
    session.execute(delete(InsightBatch).where(InsightBatch.id.in_(ids)))
    return len(ids)


def delete_old_funnels(session: Session, *, older_than: dt.datetime, chunk: int = CHUNK) -> int:
    """Delete up to `chunk` per-conversation funnel states unchanged since `older_than`."""
    ids = session.scalars(
        select(ConversationFunnel.conversation_id)
        .where(ConversationFunnel.updated_at < older_than)
        .limit(chunk)
    ).all()
    if ids:
        session.execute(
            delete(ConversationFunnel).where(ConversationFunnel.conversation_id.in_(ids))
        )
    return len(ids)


def expire_texts(session: Session, *, older_than: dt.datetime, chunk: int = CHUNK) -> int:
    """Delete up to `chunk` unrecognised-text events from before `older_than`, and up to
    `chunk` per-hour text counts of hours that ended by then; return how many rows went."""
    ids = session.scalars(
        select(ConversationEvent.id)
        .where(
            # A literal, so the partial index of texts matches under a generic plan too.
            ConversationEvent.kind == literal_column(f"'{UNRECOGNISED_TEXT}'"),
            ConversationEvent.occurred_at < older_than,
        )
        .limit(chunk)
    ).all()
    if ids:
        session.execute(delete(ConversationEvent).where(ConversationEvent.id.in_(ids)))
    key = tuple_(HourlyText.restaurant_id, HourlyText.hour, HourlyText.text)
    old = (
        select(HourlyText.restaurant_id, HourlyText.hour, HourlyText.text)
        .where(HourlyText.hour < utc_hour(older_than))
        .limit(chunk)
    )
    texts = session.execute(delete(HourlyText).where(key.in_(old)))
    return len(ids) + int(texts.rowcount or 0)  # type: ignore[attr-defined]
