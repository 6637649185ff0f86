"""Sending welcome-bootstrap jobs and reading their rows, for in-process and worker tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select

from bot.runtime import Runtime
from store.models import Job
from tests.support.waiting import wait_until

REQUESTED_AT = "2025-10-20T15:30:00.000Z"


def bootstrap_payload(restaurant: Any, customer: str, **changes: Any) -> dict[str, Any]:
    """Return the keyword arguments the webhook sends for a new customer of `restaurant`."""
    return {
        "restaurant_id": restaurant.id,
        "merchant_id": restaurant.merchant_id,
        "customer": customer,
        "requested_at": REQUESTED_AT,
        **changes,
    }


def send_bootstrap(**payload: Any) -> str:
    """Enqueue a bootstrap message on the run's broker; return its id (the job's id)."""
    from actors.bootstrap import welcome_bootstrap

    return str(welcome_bootstrap.send_with_options(kwargs=payload).message_id)


def bootstrap_jobs(runtime: Runtime) -> Sequence[Job]:
    """Return the bootstrap job rows, oldest first."""
    with runtime.read_transaction() as session:
        query = select(Job).where(Job.actor == "welcome_bootstrap").order_by(Job.created_at)
        return session.scalars(query).all()


def wait_for_jobs(
    runtime: Runtime, predicate: Callable[[Sequence[Job]], bool], timeout: float = 20.0
) -> Sequence[Job]:
    """Return the bootstrap rows once `predicate(rows)` holds.

    Raises:
      AssertionError: If it does not hold within `timeout` seconds (the rows are shown).
    """
    matched = wait_until(
        lambda: (found := bootstrap_jobs(runtime)) and predicate(found) and found, timeout
    )
    if matched:
        return matched
    states = [(job.status, job.attempts, job.error) for job in bootstrap_jobs(runtime)]
    raise AssertionError(f"bootstrap jobs never matched: {states}")


def count(jobs: Sequence[Job], status: str) -> int:
    """Return how many of `jobs` have `status`."""
    return sum(1 for job in jobs if job.status == status)
