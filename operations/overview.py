"""The dashboard's Overview: the operations snapshot's parts, job history, alarms.

It reads the same parts as `GET /api/admin/metrics` (`operations.snapshot`), except the
jobs, where it counts only those waiting or running (an index range, not a scan of every
job row) and takes finished ones from the hourly rollup (`operations.job_outcomes`). A
part whose store is unreachable is None and named in `unavailable`; the page says which.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from actors import queues
from bot import telemetry
from bot.runtime import Runtime
from catalog.breaker import BreakerDetail
from operations import job_outcomes
from operations.audit import audit_page
from operations.job_outcomes import OutcomeHistory
from operations.models import AuditEntry
from operations.snapshot import PartReader, queue_depths
from store.models import Job, Restaurant

# The seed's thresholds: past them a figure is shown in red.
DEAD_LETTERS_ALARM = 10
BREAKER_OPEN_ALARM = dt.timedelta(minutes=30)
QUEUED_ALARM = 50
OLDEST_QUEUED_ALARM = dt.timedelta(hours=1)
RECENT_AUDIT_ENTRIES = 8


@dataclass(frozen=True)
class JobActivity:
    """Jobs waiting or running now, and how long the oldest waiting one has waited."""

    queued: int
    running: int
    oldest_queued_at: dt.datetime | None
    now: dt.datetime

    @property
    def oldest_queued_age(self) -> dt.timedelta | None:
        return None if self.oldest_queued_at is None else self.now - self.oldest_queued_at

    @property
    def too_many_queued(self) -> bool:
        return self.queued > QUEUED_ALARM

    @property
    def waiting_too_long(self) -> bool:
        age = self.oldest_queued_age
        return age is not None and age > OLDEST_QUEUED_ALARM


@dataclass(frozen=True)
class Breaker:
    """A breaker that is not closed, with the restaurants it cuts off from the catalog."""

    detail: BreakerDetail
    restaurants: list[tuple[str, str]]
    now: dt.datetime

    @property
    def open_too_long(self) -> bool:
        opened = self.detail.opened_at
        return opened is not None and self.now - opened > BREAKER_OPEN_ALARM


@dataclass
class Overview:
    """Everything the Overview page shows; a part is None when its store is unreachable."""

    now: dt.datetime
    database_up: bool
    redis_up: bool
    queues: dict[str, dict[str, int]] | None = None
    workers: list[dict[str, Any]] | None = None
    breakers: list[Breaker] | None = None
    cache: dict[str, Any] | None = None
    jobs: JobActivity | None = None
    history: OutcomeHistory | None = None
    audit: list[AuditEntry] | None = None
    unavailable: list[str] = field(default_factory=list)

    @property
    def dead_letters(self) -> int | None:
        if self.queues is None:
            return None
        return sum(depth["dead"] for depth in self.queues.values())

    @property
    def too_many_dead_letters(self) -> bool:
        return (self.dead_letters or 0) > DEAD_LETTERS_ALARM

    @property
    def workers_alive(self) -> int | None:
        return None if self.workers is None else sum(1 for w in self.workers if w["alive"])


def job_activity(session: Session, *, now: dt.datetime) -> JobActivity:
    """Return how many jobs are queued and running, and the oldest queued one's time."""
    counts = dict(
        session.execute(
            select(Job.status, func.count())
            .where(Job.status.in_(("queued", "running")))
            .group_by(Job.status)
        ).all()
    )
    oldest = session.scalar(select(func.min(Job.created_at)).where(Job.status == "queued"))
    return JobActivity(
        queued=int(counts.get("queued", 0)),
        running=int(counts.get("running", 0)),
        oldest_queued_at=oldest,
        now=now,
    )


def breakers(current: Runtime, session: Session, *, now: dt.datetime) -> list[Breaker]:
    """Return the catalog breakers that are not closed, with their merchants' restaurants."""
    details = current.catalog_breaker.details()
    merchants = [detail.merchant_id for detail in details]
    restaurants: dict[str, list[tuple[str, str]]] = {}
    if merchants:
        query = (
            select(Restaurant.merchant_id, Restaurant.id, Restaurant.name)
            .where(Restaurant.merchant_id.in_(merchants))
            .order_by(Restaurant.id)
        )
        for merchant, restaurant_id, name in session.execute(query):
            restaurants.setdefault(merchant, []).append((restaurant_id, name))
    return [Breaker(d, restaurants.get(d.merchant_id, []), now) for d in details]


def overview(current: Runtime, *, now: dt.datetime) -> Overview:
    """Return the Overview of the system at `now`, each part read on its own."""
    read = PartReader()
    redis_up = read("redis", lambda: bool(current.redis.ping())) or False
    found = Overview(now=now, database_up=False, redis_up=redis_up)
    if redis_up:
        found.queues = read("queues", lambda: queue_depths(current))
        found.workers = read("workers", lambda: queues.heartbeats(current.broker))
        found.cache = read("cache", lambda: telemetry.cache_hit_rates(current))

    def from_database() -> bool:
        with current.read_transaction() as session:
            session.execute(text("SELECT 1"))
            found.jobs = job_activity(session, now=now)
            found.history = job_outcomes.history(session, now=now)
            found.audit = audit_page(session, limit=RECENT_AUDIT_ENTRIES, offset=0)[1]
            if redis_up:
                found.breakers = read("breakers", lambda: breakers(current, session, now=now))
        return True

    found.database_up = read("database", from_database) or False
    found.unavailable = read.unavailable
    return found
