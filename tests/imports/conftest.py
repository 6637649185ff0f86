"""Fixtures of the order-import tests: the demo restaurant, imports started as the API does,
job rows read afresh, and what the stand-in catalog holds for a period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from imports.models import Order
from imports.requests import DAY
from imports.starting import launch_import
from store.models import Job
from store.timeutil import utcnow
from tests.support import factories
from tests.support.waiting import wait_until

DEMO_MERCHANT = "demo-merchant"
FINAL = ("succeeded", "failed", "dead")


@pytest.fixture
def demo(live_runtime, settings):
    """The demo restaurant (Riyadh time) on the stand-in catalog's demo merchant."""
    with live_runtime.transaction() as session:
        return factories.restaurant(
            session,
            settings,
            restaurant_id="demo",
            merchant_id=DEMO_MERCHANT,
            timezone="Asia/Riyadh",
        )


@pytest.fixture
def start(live_runtime, broker) -> Callable[..., str]:
    """Start an import as `POST /api/imports` does; return its job id."""

    def launch(restaurant_id: str = "demo", days: int = 30, now: dt.datetime | None = None) -> str:
        return launch_import(live_runtime, restaurant_id, days, now=now or utcnow()).job_id

    return launch


@pytest.fixture
def job_row(live_runtime) -> Callable[[str], Job | None]:
    def read(job_id: str) -> Job | None:
        with live_runtime.read_transaction() as session:
            return session.get(Job, job_id)

    return read


@pytest.fixture
def finished(job_row) -> Callable[..., Job]:
    """Wait for a job to end (or reach `status`) and return its row."""

    def wait(job_id: str, status: str | None = None, timeout: float = 60.0) -> Job:
        wanted = (status,) if status else FINAL
        row = wait_until(lambda: (r := job_row(job_id)) and r.status in wanted and r, timeout)
        if not row:
            last = job_row(job_id)
            state = (last.status, last.attempts, last.error) if last else None
            raise AssertionError(f"job {job_id} did not reach {wanted}: {state}")
        return row

    return wait


@pytest.fixture
def stored(live_runtime) -> Callable[[str], int]:
    """Count the orders stored for a restaurant."""

    def count(restaurant_id: str = "demo") -> int:
        with live_runtime.read_transaction() as session:
            return session.scalar(
                select(func.count()).select_from(Order).where(Order.restaurant_id == restaurant_id)
            )

    return count


def period_of(job: Job) -> tuple[dt.datetime, dt.datetime]:
    """Return the `[since, until)` of an import job."""
    kwargs: dict[str, Any] = (job.payload or {})["kwargs"]
    until = dt.datetime.fromisoformat(kwargs["until"].replace("Z", "+00:00"))
    return until - kwargs["days"] * DAY, until


def upstream_orders(catalog_server, job: Job, merchant: str = DEMO_MERCHANT) -> list[dict]:
    """Return the orders the stand-in catalog holds for the job's period."""
    return catalog_server.catalog.get(merchant).orders.between(*period_of(job))
