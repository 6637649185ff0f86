"""Periodic upkeep the scheduler runs (the relay also once at worker start)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from actors import recovery
from actors.job_states import JobStateStore
from bot.delivery import relay_outbox
from bot.jobs import relay_jobs
from bot.runtime import Runtime
from store.retention import clear_old_message_bodies, delete_old_jobs
from store.timeutil import utcnow

logger = logging.getLogger(__name__)

# Chunks per cleanup run: bounded, so one run never holds the scheduler for long.
MAX_CLEANUP_CHUNKS = 50


def relay(runtime: Runtime) -> None:
    """Hand over everything written but not yet enqueued: jobs, outbox retries, job states."""
    relay_jobs(runtime.sessions, runtime.broker)
    relay_outbox(runtime.sessions, runtime.broker)
    JobStateStore(runtime.engine, runtime.redis, runtime.keys).apply_parked()


def recover(runtime: Runtime) -> None:
    """Re-queue dead workers' messages and correct the job rows they left running."""
    recovery.sweep_dead_workers(runtime.broker)
    recovery.recover_lost_jobs(runtime, runtime.broker)


def requeue_stranded(runtime: Runtime) -> None:
    """Enqueue again the jobs whose message Redis lost (a restart without persistence)."""
    recovery.requeue_stranded_jobs(runtime, runtime.broker)


def clean_up(runtime: Runtime) -> tuple[int, int]:
    """Delete job rows and clear message bodies past their retention; return the counts."""
    settings = runtime.settings
    now = utcnow()
    jobs_before = now - dt.timedelta(days=settings.job_retention_days)
    bodies_before = now - dt.timedelta(days=settings.message_body_retention_days)
    jobs = _in_chunks(runtime, lambda session: delete_old_jobs(session, older_than=jobs_before))
    bodies = _in_chunks(
        runtime, lambda session: clear_old_message_bodies(session, older_than=bodies_before)
    )
    if jobs or bodies:
        logger.info("cleanup: deleted %d old job(s), cleared %d message body(ies)", jobs, bodies)
    return jobs, bodies


def _in_chunks(runtime: Runtime, step: Callable[[Session], int]) -> int:
    total = 0
    for _ in range(MAX_CLEANUP_CHUNKS):
        with runtime.transaction() as session:
            done = step(session)
        total += done
        if not done:
            break
    return total
