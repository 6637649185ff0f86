"""Operator events to `OPS_WEBHOOK_URL` (SPEC §15): a catalog breaker opened, dead letters
over 10, a queue whose oldest job waits over an hour — each at most once per hour per
subject (merchant, queue), however often the condition recurs.

The scheduler gathers the conditions (`actors.alert_upkeep`); this module decides which
are new this hour (`SET <ns>:alerts:ops:<type>:<subject> NX EX 3600`) and writes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts import events
from store.models import Job
from store.redis import Keys

DEAD_LETTERS_OVER = 10
BACKLOG_AFTER = dt.timedelta(hours=1)
ONCE_PER_S = 3600


@dataclass(frozen=True)
class Condition:
    """An operator event that holds now: its type, subject and data."""

    type: str
    subject: str
    data: dict[str, Any]


def conditions(
    *, open_breakers: Iterable[str], dead_letters: int, oldest_queued: dict[str, float]
) -> list[Condition]:
    """Return the operator events that the current figures call for."""
    found = [
        Condition(events.BREAKER_OPENED, merchant, {"merchantId": merchant})
        for merchant in sorted(open_breakers)
    ]
    if dead_letters > DEAD_LETTERS_OVER:
        found.append(Condition(events.DEAD_LETTERS_GROWING, "all", {"count": dead_letters}))
    for queue, age in sorted(oldest_queued.items()):
        if age > BACKLOG_AFTER.total_seconds():
            data = {"queue": queue, "oldestAgeSeconds": round(age)}
            found.append(Condition(events.QUEUE_BACKLOG, queue, data))
    return found


def oldest_queued_by_queue(session: Session, now: dt.datetime) -> dict[str, float]:
    """Return, per queue, how long its oldest queued job has waited (seconds)."""
    rows = session.execute(
        select(Job.queue, func.min(Job.created_at))
        .where(Job.status == "queued")
        .group_by(Job.queue)
    ).all()
    return {queue: (now - oldest).total_seconds() for queue, oldest in rows if oldest}


def new_this_hour(client: redis.Redis, keys: Keys, found: Iterable[Condition]) -> list[Condition]:
    """Return the conditions not yet sent in the last hour (and claim them)."""
    fresh = []
    for condition in found:
        key = keys("alerts", "ops", condition.type, condition.subject)
        if client.set(key, "1", nx=True, ex=ONCE_PER_S):
            fresh.append(condition)
    return fresh


def emit_conditions(session: Session, found: Iterable[Condition], now: dt.datetime) -> list[Job]:
    """Write each condition as an operator event; return the delivery jobs."""
    jobs: list[Job] = []
    for condition in found:
        jobs += events.emit_operator(session, condition.type, condition.data, now)
    return jobs
