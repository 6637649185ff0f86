"""What the scheduler's cleanup removes of alerts (SPEC §15): old events with their
deliveries, and old firings.

Events and the delivery log are kept `EVENT_RETENTION_DAYS` (90), like conversation events:
long enough for an owner to look back over a quarter of alerts. A firing only guards its
own period (a day or a month), so it is kept as long, as a record of what fired when.
Each function does one bounded chunk and returns how many rows went (0: nothing left).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alerts.models import AlertEvent, AlertFiring, NotificationDelivery

CHUNK = 1000


def delete_old_events(session: Session, *, older_than: dt.datetime, chunk: int = CHUNK) -> int:
    """Delete up to `chunk` events that occurred before `older_than`, with their deliveries."""
    ids = session.scalars(
        select(AlertEvent.id).where(AlertEvent.occurred_at < older_than).limit(chunk)
    ).all()
    if not ids:
        return 0
    session.execute(delete(NotificationDelivery).where(NotificationDelivery.event_id.in_(ids)))
    session.execute(delete(AlertEvent).where(AlertEvent.id.in_(ids)))
    return len(ids)


def delete_old_firings(session: Session, *, older_than: dt.datetime, chunk: int = CHUNK) -> int:
    """Delete up to `chunk` firings recorded before `older_than`."""
    ids = session.scalars(
        select(AlertFiring.id).where(AlertFiring.fired_at < older_than).limit(chunk)
    ).all()
    if ids:
        session.execute(delete(AlertFiring).where(AlertFiring.id.in_(ids)))
    return len(ids)
