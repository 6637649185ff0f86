"""Alert events as an outbox: the event, its deliveries and their jobs, in the caller's
transaction (SPEC §15).

`emit()` is the one way to raise an event for a restaurant's channels — threshold and
pace firings, test sends, and the order-history import's `import.completed` /
`import.failed`. It writes the event row, one `pending` delivery per channel of the
restaurant and one queued job per delivery (`bot.jobs.add_job`), and returns the jobs:
after commit the caller hands them to the broker (`bot.jobs.enqueue` then
`bot.jobs.mark_enqueued`); if it does not (or Redis is down), the relay enqueues them
within seconds. Nothing is sent before the transaction commits, and nothing decided in
it is lost.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from alerts.models import AlertChannel, AlertEvent, NotificationDelivery
from bot import jobs
from store.job_kinds import DELIVER_NOTIFICATION
from store.models import Job
from store.timeutil import iso_z

# Event types (SPEC §15).
THRESHOLD_REACHED = "usage.threshold_reached"
PACE_EXCEEDS = "usage.pace_exceeds"
IMPORT_COMPLETED = "import.completed"
IMPORT_FAILED = "import.failed"
TEST = "test"
BREAKER_OPENED = "breaker.opened"
DEAD_LETTERS_GROWING = "dead_letters.growing"
QUEUE_BACKLOG = "queue.backlog"
# Deliveries of operator events go to OPS_WEBHOOK_URL, not to a channel.
OPS_CHANNEL = "ops"
TEST_MESSAGE = "A test notification from restaurant-bot: this channel works."


def new_event_id() -> str:
    """Return a fresh event id (receivers dedupe on it)."""
    return "evt_" + uuid.uuid4().hex


def event_json(event: AlertEvent) -> dict[str, Any]:
    """Return the event as receivers get it."""
    return {
        "id": event.id,
        "type": event.type,
        "restaurantId": event.restaurant_id,
        "occurredAt": iso_z(event.occurred_at),
        "data": event.data,
    }


def emit(
    session: Session,
    event_type: str,
    restaurant_id: str,
    data: dict[str, Any],
    now: dt.datetime,
    *,
    event_id: str | None = None,
) -> list[Job]:
    """Write an event for `restaurant_id` and a delivery to each of its channels; return the
    delivery jobs to enqueue after commit (see the module docstring).

    `data` must carry no customer phone number (receivers are outside our walls).
    """
    event_id = event_id or new_event_id()
    _insert_event(session, event_id, event_type, restaurant_id, data, now)
    channels = session.execute(
        select(AlertChannel.id, AlertChannel.type)
        .where(AlertChannel.restaurant_id == restaurant_id)
        .order_by(AlertChannel.created_at, AlertChannel.id)
    ).all()
    return [
        _add_delivery(session, event_id, restaurant_id, channel_id, channel_type, now)
        for channel_id, channel_type in channels
    ]


def emit_test(session: Session, restaurant_id: str, now: dt.datetime) -> tuple[str, list[Job]]:
    """Write a `test` event to every channel of `restaurant_id`; return its id and the
    delivery jobs to enqueue after commit (the API, the dashboard and the CLI send it)."""
    event_id = new_event_id()
    data = {"message": TEST_MESSAGE}
    return event_id, emit(session, TEST, restaurant_id, data, now, event_id=event_id)


def emit_operator(
    session: Session, event_type: str, data: dict[str, Any], now: dt.datetime
) -> list[Job]:
    """Write an operator event (no restaurant) and its delivery to `OPS_WEBHOOK_URL`."""
    event_id = new_event_id()
    _insert_event(session, event_id, event_type, None, data, now)
    return [_add_delivery(session, event_id, None, None, OPS_CHANNEL, now)]


def _insert_event(
    session: Session,
    event_id: str,
    event_type: str,
    restaurant_id: str | None,
    data: dict[str, Any],
    now: dt.datetime,
) -> None:
    session.connection().execute(
        insert(AlertEvent),
        {
            "id": event_id,
            "restaurant_id": restaurant_id,
            "type": event_type,
            "occurred_at": now,
            "data": data,
        },
    )


def _add_delivery(
    session: Session,
    event_id: str,
    restaurant_id: str | None,
    channel_id: str | None,
    channel_type: str,
    now: dt.datetime,
) -> Job:
    # The delivery's id is its job's id: the dead letters, the job and the log agree.
    delivery_id = str(uuid.uuid4())
    job = jobs.add_job(
        session,
        DELIVER_NOTIFICATION,
        {"delivery_id": delivery_id, "restaurant_id": restaurant_id},
        restaurant_id=restaurant_id,
        job_id=delivery_id,
    )
    session.connection().execute(
        insert(NotificationDelivery),
        {
            "id": job.id,
            "event_id": event_id,
            "restaurant_id": restaurant_id,
            "channel_id": channel_id,
            "channel_type": channel_type,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        },
    )
    return job
