"""The scheduler: each tick acts once across schedulers; recovery, relay and cleanup."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from actors import maintenance, recovery
from actors.context import use_runtime
from actors.scheduler import Ticks, periodic_jobs
from bot.runtime import Runtime
from store.models import Job, Message
from store.timeutil import utcnow
from tests.support import factories
from tests.support.processes import on_rabbitmq

redis_broker_only = pytest.mark.skipif(on_rabbitmq(), reason="Redis broker internals")


@pytest.fixture
def runtime_in_use(live_runtime):
    use_runtime(live_runtime)
    yield live_runtime
    use_runtime(None)


def test_two_schedulers_run_each_tick_of_a_job_once(runtime_in_use):
    runs: list[int] = []
    lock = threading.Lock()

    def job(runtime: Runtime) -> None:
        with lock:
            runs.append(int(time.time()))

    schedulers = []
    for _ in range(2):
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(Ticks("test-tick", 1, job), "interval", seconds=1, max_instances=1)
        schedulers.append(scheduler)
    for scheduler in schedulers:
        scheduler.start()
    time.sleep(4.5)
    for scheduler in schedulers:
        scheduler.shutdown(wait=True)
    assert len(runs) >= 3
    assert len(runs) == len(set(runs))  # never two runs in one tick


def test_the_scheduler_runs_recovery_relay_sealing_and_cleanup():
    assert {ticks.name: ticks.every_s for ticks in periodic_jobs()} == {
        "recover": 5,
        "relay": 5,
        "stranded": 60,
        "seal_batches": 20,
        "cleanup": 3600,
        "alerts-pace": 3600,
        "alerts-operator": 60,
        "dead-letter-index": 5,
        "dead-letter-reconcile": 60,
        "job-outcomes": 60,
        "dashboard-sessions": 3600,
    }


def test_cleanup_deletes_old_final_jobs_and_clears_old_message_bodies(runtime_in_use, settings):
    now = utcnow()
    old_job = now - dt.timedelta(days=settings.job_retention_days + 1)
    old_body = now - dt.timedelta(days=settings.message_body_retention_days + 1)
    with runtime_in_use.transaction() as session:
        restaurant = factories.restaurant(session, settings)
        for job_id, status, created in [
            ("old-done", "succeeded", old_job),
            ("old-dead", "dead", old_job),
            ("old-waiting", "queued", old_job),  # not final: kept
            ("new-done", "succeeded", now),
        ]:
            session.add(Job(id=job_id, actor="a", queue="q", status=status, created_at=created))
        for sid, created in [("SMold", old_body), ("SMnew", now)]:
            session.add(
                Message(
                    sid=sid,
                    restaurant_id=restaurant.id,
                    direction="inbound",
                    body="my address",
                    content_variables='{"2": "Sara"}',
                    status="received",
                    created_at=created,
                )
            )
    assert maintenance.clean_up(runtime_in_use) == (2, 1)
    with runtime_in_use.read_transaction() as session:
        assert set(session.scalars(select(Job.id))) == {"old-waiting", "new-done"}
        bodies = dict(session.execute(select(Message.sid, Message.body)).all())
    assert bodies == {"SMold": None, "SMnew": "my address"}  # the row stays, the body goes


@redis_broker_only
def test_rows_left_running_by_a_dead_worker_go_back_to_queued(runtime_in_use, broker):
    heartbeats = f"{broker.namespace}:__heartbeats__"
    now_ms = int(time.time() * 1000)
    runtime_in_use.redis.zadd(heartbeats, {"live-worker": now_ms, "dead-worker": now_ms - 60_000})
    with runtime_in_use.transaction() as session:
        for job_id, worker in [
            ("lost", "dead-worker"),
            ("gone", "vanished"),
            ("busy", "live-worker"),
        ]:
            session.add(Job(id=job_id, actor="a", queue="q", status="running", worker_id=worker))
    assert recovery.recover_lost_jobs(runtime_in_use, broker) == 2
    with runtime_in_use.read_transaction() as session:
        states = dict(session.execute(select(Job.id, Job.status)).all())
        lost = session.get(Job, "lost")
    assert states == {"lost": "queued", "gone": "queued", "busy": "running"}
    assert "dead-worker stopped during the job" in lost.error


@redis_broker_only
def test_the_sweep_requeues_what_a_dead_worker_held_on_any_queue(runtime_in_use, broker):
    client, ns = broker.client, broker.namespace
    client.zadd(f"{ns}:__heartbeats__", {"dead-worker": int(time.time() * 1000) - 60_000})
    client.hset(f"{ns}:undeclared-queue.msgs", "m1", b"{}")
    client.sadd(f"{ns}:__acks__.dead-worker.undeclared-queue", "m1")
    assert recovery.sweep_dead_workers(broker) == 1
    assert client.lrange(f"{ns}:undeclared-queue", 0, -1) == [b"m1"]
    assert not client.exists(f"{ns}:__acks__.dead-worker.undeclared-queue")


@redis_broker_only
def test_jobs_whose_message_redis_lost_are_enqueued_again(runtime_in_use, broker):
    from bot.jobs import enqueue

    client, ns = broker.client, broker.namespace
    long_ago = utcnow() - dt.timedelta(minutes=11)
    with runtime_in_use.transaction() as session:
        for job_id, status, enqueued_at in [
            ("waiting", "queued", long_ago),  # its message is in Redis: left alone
            ("stranded", "queued", long_ago),  # its message is lost: enqueued again
            ("recent", "queued", utcnow()),  # too recent to judge
            ("deferred", "queued", None),  # never enqueued: the relay's job, not this one
            ("done", "succeeded", long_ago),
        ]:
            session.add(
                Job(
                    id=job_id,
                    actor="flaky_job",
                    queue="test-flaky",
                    status=status,
                    payload={"kwargs": {"name": job_id}},
                    enqueued_at=enqueued_at,
                    created_at=long_ago,
                    updated_at=enqueued_at or long_ago,
                )
            )
    with runtime_in_use.read_transaction() as session:
        assert enqueue(broker, [session.get(Job, "waiting")]) == ["waiting"]
    assert recovery.requeue_stranded_jobs(runtime_in_use, broker) == 1
    held = b" ".join(client.hvals(f"{ns}:test-flaky.msgs"))
    assert b"stranded" in held
    assert recovery.requeue_stranded_jobs(runtime_in_use, broker) == 0  # now held, and fresh
