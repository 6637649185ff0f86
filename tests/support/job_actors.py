"""Actors of the job-system tests, declared on the run's broker.

The worker subprocesses of the recovery and shutdown tests import this module too
(`dramatiq actors.context:setup tests.support.job_actors --queues test-slow`).
"""

from __future__ import annotations

import logging
import os
import time

import dramatiq
from dramatiq.middleware import CurrentMessage
from sqlalchemy import func, select

from actors import progress
from actors.broker import installed_broker
from actors.context import current_runtime
from store.models import Restaurant
from tests.support.waiting import wait_until

installed_broker()
logger = logging.getLogger(__name__)


def _record(event: str) -> None:
    runtime = current_runtime()
    message = CurrentMessage.get_current_message()
    job_id = message.message_id if message is not None else "?"
    runtime.redis.rpush(runtime.keys("test", event), f"{job_id} {os.getpid()}")


@dramatiq.actor(queue_name="test-slow", tracked=True, max_retries=0)
def slow_job(seconds: float, steps: int = 1, restaurant_id: str | None = None) -> None:
    """Sleep `seconds` in `steps`, reporting progress after each."""
    _record("started")
    for step in range(steps):
        progress.report(step, steps, f"step {step + 1} of {steps}")
        time.sleep(seconds / steps)
    progress.report(steps, steps, "done")
    progress.result({"slept": seconds})
    logger.info("slow job slept %.1fs", seconds)
    _record("finished")


@dramatiq.actor(queue_name="test-flaky", tracked=True)
def flaky_job(name: str, restaurant_id: str | None = None) -> None:
    """Fail while the Redis key `test:fail:<name>` exists, else succeed."""
    runtime = current_runtime()
    if runtime.redis.exists(runtime.keys("test", "fail", name)):
        raise RuntimeError(f"{name} fails on purpose")
    _record("finished")


def events(event: str) -> list[tuple[str, int]]:
    """Return (job id, pid) of every recorded `event`, in order."""
    runtime = current_runtime()
    entries = runtime.redis.lrange(runtime.keys("test", event), 0, -1)
    return [(job_id, int(pid)) for job_id, pid in (e.decode().split() for e in entries)]


@dramatiq.actor(queue_name="test-db", tracked=True, max_retries=0)
def count_restaurants_job(gate: str) -> None:
    """Wait until the Redis key `test:gate:<gate>` exists, then count the restaurants: that
    count is the job's first statement (a test closes the connections meanwhile)."""
    runtime = current_runtime()
    key = runtime.keys("test", "gate", gate)
    wait_until(lambda: runtime.redis.exists(key), timeout=30, interval=0.02)
    with runtime.read_transaction() as session:
        restaurants = session.scalar(select(func.count()).select_from(Restaurant))
    progress.result({"restaurants": restaurants})
