"""The scheduler's alert work (SPEC §15): the hourly pace check and the operator events."""

from __future__ import annotations

import logging

from actors.dead_letter_store import DeadLetters, DeadLettersUnsupported
from alerts import operator
from alerts.pace import evaluate_pace
from bot import jobs
from bot.runtime import Runtime
from store.models import Job
from store.timeutil import utcnow

logger = logging.getLogger(__name__)


def hand_over(runtime: Runtime, new_jobs: list[Job]) -> None:
    """Enqueue jobs written by a committed transaction (the relay retries what fails)."""
    enqueued = jobs.enqueue(runtime.broker, new_jobs)
    with runtime.autocommit() as connection:
        jobs.mark_enqueued(connection, enqueued)


def check_pace(runtime: Runtime) -> int:
    """Fire `pace` for every restaurant whose month runs hot (once per month each)."""
    fired = evaluate_pace(
        runtime.transaction,
        runtime.settings,
        utcnow(),
        after_commit=lambda new_jobs: hand_over(runtime, new_jobs),
    )
    if fired:
        logger.info("alerts: pace fired for %d restaurant(s)", fired)
    return fired


def check_operator_events(runtime: Runtime) -> int:
    """Send the operator events whose condition holds now, once per hour per subject."""
    if not runtime.settings.ops_webhook_url:
        return 0
    now = utcnow()
    breakers = runtime.catalog_breaker.tripped()
    try:
        dead = sum(DeadLetters(runtime.broker).counts().values())
    except DeadLettersUnsupported:
        dead = 0
    with runtime.read_transaction() as session:
        oldest = operator.oldest_queued_by_queue(session, now)
    found = operator.conditions(
        open_breakers=[m for m, state in breakers.items() if state == "open"],
        dead_letters=dead,
        oldest_queued=oldest,
    )
    fresh = operator.new_this_hour(runtime.redis, runtime.keys, found)
    if not fresh:
        return 0
    with runtime.transaction() as session:
        new_jobs = operator.emit_conditions(session, fresh, now)
    hand_over(runtime, new_jobs)
    logger.warning("alerts: operator event(s) %s", ", ".join(c.type for c in fresh))
    return len(fresh)
