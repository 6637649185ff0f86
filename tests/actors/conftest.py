"""Fixtures of the job-system tests: the test actors and jobs sent the way the webhook does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot import jobs
from store.job_kinds import JobKind
from store.models import Job


@pytest.fixture
def job_actors(broker):
    """The test actors (`slow_job`, `flaky_job`) declared on the run's broker."""
    from tests.support import job_actors

    return job_actors


@pytest.fixture
def send_job(live_runtime, broker, job_actors) -> Callable[..., str]:
    """Write a job row and enqueue its message, like the webhook; return the job id."""

    def send(actor: str, queue: str, restaurant_id: str | None = None, **kwargs: Any) -> str:
        if restaurant_id is not None:
            kwargs["restaurant_id"] = restaurant_id
        with live_runtime.transaction() as session:
            job = jobs.add_job(session, JobKind(actor, queue), kwargs, restaurant_id=restaurant_id)
        assert jobs.enqueue(live_runtime.broker, [job]) == [job.id]
        # As the webhook does: a row left unmarked is enqueued again by the relay once it
        # is `queued` and 10 s old (e.g. after recovery), and then runs twice.
        with live_runtime.transaction() as session:
            jobs.mark_enqueued(session, [job.id])
        return job.id

    return send


@pytest.fixture
def job_row(live_runtime) -> Callable[[str], Job | None]:
    """Read a job row afresh."""

    def read(job_id: str) -> Job | None:
        with live_runtime.read_transaction() as session:
            return session.get(Job, job_id)

    return read


@pytest.fixture
def tenants(live_runtime, settings):
    """Restaurants r1 and r2 with an owner PAT each, and an admin key (committed)."""
    from tests.usage_api.conftest import add_restaurant, admin_headers, owner_headers

    with live_runtime.transaction() as session:
        for restaurant_id in ("r1", "r2"):
            add_restaurant(session, settings, restaurant_id)
        return {
            "r1": owner_headers(session, "r1"),
            "r2": owner_headers(session, "r2"),
            "admin": admin_headers(session),
        }
