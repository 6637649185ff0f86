"""Periodic upkeep the scheduler runs (the relay also once at worker start)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from actors import recovery
from actors.job_states import JobStateStore
from alerts import retention as alert_retention
from bot.delivery import relay_outbox
from bot.jobs import relay_jobs
from bot.runtime import Runtime
from insights import batches, retention
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


def seal_batches(runtime: Runtime) -> list[int]:
    """Seal the insight batches that are full or old enough; enqueue their analysis."""
    settings = runtime.settings
    return batches.seal_due(
        runtime.sessions,
        runtime.broker,
        max_events=settings.insight_batch_events,
        max_age_s=settings.insight_batch_max_age_s,
        now=utcnow(),
    )


def clean_up(runtime: Runtime) -> tuple[int, int]:
    """Delete job rows and clear message bodies past their retention, and expire what
    the insights keep; return the job and body counts."""
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
    events_before = now - dt.timedelta(days=settings.event_retention_days)
    old = _in_chunks(runtime, lambda s: retention.delete_old_batches(s, older_than=events_before))
    funnels = _in_chunks(
        runtime, lambda s: retention.delete_old_funnels(s, older_than=events_before)
    )
    texts = _in_chunks(runtime, lambda s: retention.expire_texts(s, older_than=bodies_before))
    if old or funnels or texts:
        logger.info(
            "cleanup: %d old insight batch(es) with their events, %d funnel state(s), "
            "%d unrecognised text row(s) expired",
            old,
            funnels,
            texts,
        )
    alert_events = _in_chunks(
        runtime, lambda s: alert_retention.delete_old_events(s, older_than=events_before)
    )
    firings = _in_chunks(
        runtime, lambda s: alert_retention.delete_old_firings(s, older_than=events_before)
    )
    if alert_events or firings:
        logger.info(
            "cleanup: %d old alert event(s) with their deliveries, %d firing(s)",
            alert_events,
            firings,
        )
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
