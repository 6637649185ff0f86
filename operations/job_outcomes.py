"""Jobs finished per hour and outcome, kept after the job rows are gone.

The scheduler recomputes the recent hours from the `jobs` table every minute
(`refresh`): each hour since the last one it wrote (at least the last three, since job
rows are written a little after the fact, by batches and the relay) is counted again with
one grouped query on `jobs.finished_at` and replaces what was there, so a run repeated or
interrupted changes nothing. Hours older than `JOB_RETENTION_DAYS` minus a day are never
recomputed: their job rows may already be deleted, and their counts stay as they were.
A job replayed from the dead letters counts where it is now (succeeded, say) and, if its
first ending is older than three hours, also where it was (dead) — history, not a tally.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, literal_column, select
from sqlalchemy.orm import Session

from operations.models import JobOutcomeHour
from store.models import Job

OUTCOMES = ("succeeded", "failed", "dead")
RECENT = dt.timedelta(hours=3)
HOUR = dt.timedelta(hours=1)


@dataclass
class Bucket:
    """Jobs that ended in one hour or day (UTC), by outcome."""

    start: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def succeeded(self) -> int:
        return self.counts.get("succeeded", 0)

    @property
    def failed(self) -> int:
        """Jobs that failed for good or ran out of retries (`failed` + `dead`)."""
        return self.counts.get("failed", 0) + self.counts.get("dead", 0)

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed


@dataclass(frozen=True)
class OutcomeHistory:
    """The last 24 hours hour by hour and the last 30 days day by day, oldest first."""

    hours: list[Bucket]
    days: list[Bucket]

    @property
    def last_day(self) -> Bucket:
        """Return the totals of the last 24 hours."""
        total = Bucket(start=self.hours[0].start)
        for bucket in self.hours:
            for outcome, count in bucket.counts.items():
                total.counts[outcome] = total.counts.get(outcome, 0) + count
        return total


def floor_hour(moment: dt.datetime) -> dt.datetime:
    """Return the start of `moment`'s UTC hour."""
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def refresh(session: Session, *, now: dt.datetime, retention_days: int) -> int:
    """Recount the recent hours from the jobs table; return how many rows were written."""
    latest = session.scalar(select(func.max(JobOutcomeHour.hour)))
    start = floor_hour(now - RECENT)
    if latest is None:
        start = floor_hour(now - dt.timedelta(days=retention_days))
    elif latest < start:
        start = latest  # the scheduler was away: recount from where it stopped
    # An hour whose job rows retention may have started deleting is never recounted.
    start = max(start, floor_hour(now - dt.timedelta(days=retention_days - 1)))
    hour = _hour_of(Job.finished_at, session.get_bind().dialect.name)
    rows = session.execute(
        select(hour, Job.actor, Job.status, func.count())
        .where(Job.finished_at >= start, Job.status.in_(OUTCOMES))
        .group_by(hour, Job.actor, Job.status)
    ).all()
    session.execute(delete(JobOutcomeHour).where(JobOutcomeHour.hour >= start))
    values = [
        {"hour": _as_utc(started), "actor": actor, "outcome": status, "count": count}
        for started, actor, status, count in rows
    ]
    if values:
        session.execute(insert(JobOutcomeHour), values)
    return len(values)


def history(session: Session, *, now: dt.datetime, days: int = 30) -> OutcomeHistory:
    """Return jobs ended per hour for 24 hours and per day (UTC) for `days` days (two
    grouped reads of the rollup: a few dozen rows each, whatever the number of jobs)."""
    this_hour = floor_hour(now)
    today = this_hour.replace(hour=0)
    first_hour = this_hour - 23 * HOUR
    first_day = today - dt.timedelta(days=days - 1)
    hours = {first_hour + n * HOUR: Bucket(first_hour + n * HOUR) for n in range(24)}
    day_buckets = {
        first_day + dt.timedelta(days=n): Bucket(first_day + dt.timedelta(days=n))
        for n in range(days)
    }
    dialect = session.get_bind().dialect.name
    day = _day_of(JobOutcomeHour.hour, dialect)
    for buckets, start, period in (
        (hours, first_hour, JobOutcomeHour.hour),
        (day_buckets, first_day, day),
    ):
        rows = session.execute(
            select(period, JobOutcomeHour.outcome, func.sum(JobOutcomeHour.count))
            .where(JobOutcomeHour.hour >= start)
            .group_by(period, JobOutcomeHour.outcome)
        )
        for started, outcome, count in rows:
            bucket = buckets.get(_as_utc(started))
            if bucket is not None:
                bucket.counts[outcome] = bucket.counts.get(outcome, 0) + int(count)
    return OutcomeHistory(hours=list(hours.values()), days=list(day_buckets.values()))


def _hour_of(column: ColumnElement[dt.datetime] | object, dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    # SQLite keeps UTC timestamps as text: cut it to the hour.
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00'"), column)


def _day_of(column: ColumnElement[dt.datetime] | object, dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.date_trunc("day", func.timezone("UTC", column))
    return func.strftime(literal_column("'%Y-%m-%d 00:00:00'"), column)


def _as_utc(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)
