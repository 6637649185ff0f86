"""Periodic upkeep the scheduler runs (and the worker once at start)."""

from __future__ import annotations

import logging

from actors.context import current_runtime
from actors.job_states import apply_parked_updates
from bot.delivery import relay_outbox
from bot.jobs import relay_jobs

logger = logging.getLogger(__name__)


def relay() -> None:
    """Hand over everything written but not yet enqueued: jobs, outbox retries, job states."""
    runtime = current_runtime()
    relay_jobs(runtime.sessions, runtime.broker)
    relay_outbox(runtime.sessions, runtime.broker)
    apply_parked_updates()
