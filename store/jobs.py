"""The job read model: one job, pages of jobs with filters, counts for operators (SPEC §9)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store.models import Job
from store.timeutil import iso_z, utcnow

JOB_STATES = ("queued", "running", "succeeded", "partial", "failed", "dead")


@dataclass(frozen=True)
class JobFilters:
    """Which jobs a list shows; None means any."""

    restaurant_id: str | None = None
    status: str | None = None
    actor: str | None = None
    # Created at or after / before (the dashboard's time filter).
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    # Only these jobs (a link to one job; the jobs of a page of batches).
    job_ids: tuple[str, ...] | None = None


def get_job(session: Session, job_id: str) -> Job | None:
    """Return job `job_id`, or None."""
    return session.get(Job, job_id)


def jobs_by_id(session: Session, job_ids: Collection[str]) -> dict[str, Job]:
    """Return these jobs by id (ids of no job left out). One statement, even for none."""
    found = session.scalars(select(Job).where(Job.id.in_(sorted(job_ids)))).all()
    return {job.id: job for job in found}


def job_page(
    session: Session,
    filters: JobFilters,
    *,
    limit: int,
    offset: int,
    count_limit: int | None = None,
) -> tuple[int, list[Job]]:
    """Return the number of matching jobs and one page of them, newest first.

    With `count_limit`, counting stops there (a total above it means "more than
    `count_limit`"): counting a million rows takes longer than reading a page.
    """
    conditions = _conditions(filters)
    if count_limit is None:
        counted = select(func.count()).select_from(Job).where(*conditions)
    else:
        capped = select(Job.id).where(*conditions).limit(count_limit + 1).subquery()
        counted = select(func.count()).select_from(capped)
    total = session.scalar(counted) or 0
    jobs = session.scalars(
        select(Job)
        .where(*conditions)
        .order_by(Job.created_at.desc(), Job.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(jobs)


def latest_job(session: Session, filters: JobFilters) -> Job | None:
    """Return the newest job `job_page` would list first, or None; without counting (a
    count of rare jobs, e.g. one restaurant's imports, can read every row of the table)."""
    return session.scalars(
        select(Job).where(*_conditions(filters)).order_by(Job.created_at.desc(), Job.id).limit(1)
    ).first()


def _conditions(filters: JobFilters) -> list[Any]:
    conditions = []
    if filters.restaurant_id is not None:
        conditions.append(Job.restaurant_id == filters.restaurant_id)
    if filters.status is not None:
        conditions.append(Job.status == filters.status)
    if filters.actor is not None:
        conditions.append(Job.actor == filters.actor)
    if filters.created_after is not None:
        conditions.append(Job.created_at >= filters.created_after)
    if filters.created_before is not None:
        conditions.append(Job.created_at < filters.created_before)
    if filters.job_ids is not None:
        conditions.append(Job.id.in_(filters.job_ids))
    return conditions


def job_stats(session: Session, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Return job counts by status and by actor and status, and the oldest queued job's age."""
    now = now or utcnow()
    by_status = dict.fromkeys(JOB_STATES, 0)
    by_actor: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(Job.actor, Job.status, func.count()).group_by(Job.actor, Job.status)
    ).all()
    for actor, status, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        by_actor.setdefault(actor, {})[status] = count
    oldest = session.scalar(select(func.min(Job.created_at)).where(Job.status == "queued"))
    return {
        "byStatus": by_status,
        "byActor": by_actor,
        "oldestQueued": {
            "createdAt": iso_z(oldest),
            "ageSeconds": round((now - oldest).total_seconds(), 3) if oldest else None,
        },
    }


def requeue_job(session: Session, job_id: str) -> None:
    """Mark a dead or failed job `queued` again (its message was replayed)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("dead", "failed")))
        .values(status="queued", finished_at=None, worker_id=None, enqueued_at=utcnow())
    )


def requeue_jobs(session: Session, job_ids: list[str]) -> None:
    """`requeue_job` for many jobs at once (a bulk replay of dead letters)."""
    for start in range(0, len(job_ids), 500):
        session.execute(
            update(Job)
            .where(Job.id.in_(job_ids[start : start + 500]), Job.status.in_(("dead", "failed")))
            .values(status="queued", finished_at=None, worker_id=None, enqueued_at=utcnow())
        )


def job_json(job: Job) -> dict[str, Any]:
    """Return the API's job object (SPEC §9)."""
    return {
        "id": job.id,
        "actor": job.actor,
        "restaurantId": job.restaurant_id,
        "status": job.status,
        "attempts": job.attempts,
        "progress": {
            "done": job.progress_done,
            "total": job.progress_total,
            "step": job.progress_step,
        },
        "result": job.result,
        "error": job.error,
        "createdAt": iso_z(job.created_at),
        "startedAt": iso_z(job.started_at),
        "finishedAt": iso_z(job.finished_at),
    }
