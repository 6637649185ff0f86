"""The scheduler's upkeep of what the dashboard shows (see `actors.scheduler`)."""

from __future__ import annotations

import contextlib
import logging

from actors.dead_letter_bulk import reconcile_index
from actors.dead_letter_store import DeadLettersUnsupported
from actors.dead_letters import index_pending
from bot.runtime import Runtime
from operations import job_outcomes
from signin.sessions import end_idle_sessions
from store.timeutil import utcnow

logger = logging.getLogger(__name__)


def index_dead_letters(runtime: Runtime) -> None:
    """Move the dead letters workers noted into the SQL index (Redis broker)."""
    with contextlib.suppress(DeadLettersUnsupported):
        index_pending(runtime)


def reconcile_dead_letters(runtime: Runtime) -> None:
    """Bring the dead-letter index in step with Redis (expired, missed letters)."""
    with contextlib.suppress(DeadLettersUnsupported):
        reconcile_index(runtime)


def roll_up_job_outcomes(runtime: Runtime) -> None:
    """Recount jobs ended per hour and outcome over the last hours."""
    with runtime.transaction() as session:
        job_outcomes.refresh(
            session, now=utcnow(), retention_days=runtime.settings.job_retention_days
        )


def end_idle_sessions_now(runtime: Runtime) -> int:
    """Delete dashboard sessions idle for 12 hours or whose credential was revoked."""
    with runtime.transaction() as session:
        ended = end_idle_sessions(session, now=utcnow())
    if ended:
        logger.info("dashboard: %d idle or revoked session(s) ended", ended)
    return ended
