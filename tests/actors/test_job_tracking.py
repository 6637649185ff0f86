"""Job tracking: states, progress, and final states that survive outages and crashes."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import update

from actors import job_states
from actors.context import current_runtime, use_runtime
from actors.job_state_writer import writer
from actors.job_states import JobChange, JobStateStore
from actors.middleware.jobs import worker_id
from bot.runtime import Runtime
from store.models import Job
from store.timeutil import utcnow
from tests.support.waiting import wait_until


@pytest.mark.rabbitmq
def test_a_tracked_job_goes_from_queued_to_running_with_progress_to_succeeded(
    send_job, job_row, worker
):
    job_id = send_job("slow_job", "test-slow", seconds=1.2, steps=4, restaurant_id="r1")
    running = wait_until(lambda: (row := job_row(job_id)) and row.progress_done >= 1 and row)
    assert running.status == "running"
    assert running.progress_total == 4
    assert running.progress_step.startswith("step ")
    assert running.worker_id == worker_id(worker.broker)
    done = wait_until(lambda: (row := job_row(job_id)) and row.status == "succeeded" and row)
    assert (done.attempts, done.progress_done, done.progress_step) == (1, 4, "done")
    assert done.result == {"slept": 1.2}
    assert done.started_at <= done.finished_at
    assert done.worker_id is None


@pytest.mark.rabbitmq
def test_a_message_sent_without_a_job_row_gets_one(job_actors, job_row, worker):
    message = job_actors.flaky_job.send("no-row", restaurant_id="r9")
    done = wait_until(lambda: (row := job_row(message.message_id)) and row.status == "succeeded")
    assert done
    row = job_row(message.message_id)
    assert (row.actor, row.queue, row.restaurant_id) == ("flaky_job", "test-flaky", "r9")


@pytest.mark.rabbitmq
def test_a_failing_job_is_retried_and_ends_dead_with_its_last_error(
    send_job, job_row, worker, live_runtime
):
    live_runtime.redis.set(live_runtime.keys("test", "fail", "always"), "1")
    job_id = send_job("flaky_job", "test-flaky", name="always")
    started = wait_until(lambda: (row := job_row(job_id)) and row.started_at)
    dead = wait_until(lambda: (row := job_row(job_id)) and row.status == "dead" and row)
    assert dead.attempts == 4  # QUEUE_RETRY_ATTEMPTS=3 retries after the first attempt
    assert dead.error == "RuntimeError: always fails on purpose"
    assert dead.finished_at is not None
    assert dead.started_at == started  # the first attempt's start; retries keep it


def store_of(runtime: Runtime) -> JobStateStore:
    return JobStateStore(runtime.engine, runtime.redis, runtime.keys)


def test_a_final_state_is_parked_in_redis_while_the_database_is_down_and_applied_later(
    live_runtime, settings, job_row, monkeypatch
):
    with live_runtime.transaction() as session:
        session.add(Job(id="j-outage", actor="a", queue="q", status="running"))
    monkeypatch.setattr(job_states, "WRITE_ATTEMPTS", 1)
    down = Runtime(settings.replace(database_url="postgresql+psycopg://nobody@127.0.0.1:9/none"))
    try:
        final = {"status": "succeeded", "finished_at": utcnow(), "updated_at": utcnow()}
        store_of(down).write([JobChange("j-outage", final, attempts=1)])
    finally:
        down.close()
    assert job_row("j-outage").status == "running"
    assert store_of(live_runtime).apply_parked() == 1
    row = job_row("j-outage")
    assert (row.status, row.attempts) == ("succeeded", 1)


def test_a_final_state_journaled_by_a_process_that_died_is_applied_by_the_relay(
    live_runtime, job_row
):
    with live_runtime.transaction() as session:
        session.add(Job(id="j-crash", actor="a", queue="q", status="running", worker_id="w1"))
    change = JobChange("j-crash", {"status": "succeeded", "finished_at": utcnow()}, attempts=1)
    entry = json.loads(change.to_json())
    entry["at"] = time.time() - job_states.JOURNAL_GRACE_S - 1
    journal = live_runtime.keys(*job_states.JOURNAL)
    live_runtime.redis.hset(journal, "j-crash:1:1", json.dumps(entry))
    fresh = JobChange("j-fresh", {"status": "succeeded"}).to_json()
    live_runtime.redis.hset(journal, "j-fresh:1:1", fresh)
    # The fresh entry may still be written by its process: left alone.
    assert store_of(live_runtime).apply_parked() == 1
    assert job_row("j-crash").status == "succeeded"
    assert live_runtime.redis.hkeys(live_runtime.keys(*job_states.JOURNAL)) == [b"j-fresh:1:1"]


@pytest.mark.rabbitmq
def test_every_final_state_reaches_the_database_and_leaves_the_journal(
    send_job, job_row, worker, live_runtime
):
    ids = [send_job("flaky_job", "test-flaky", name=f"n{n}") for n in range(30)]
    assert wait_until(lambda: all(job_row(i).status == "succeeded" for i in ids))
    assert wait_until(lambda: not live_runtime.redis.hlen(live_runtime.keys(*job_states.JOURNAL)))


def test_progress_reports_outside_a_job_do_nothing():
    from actors import progress

    progress.report(1, 2, "nowhere")  # no current message: no error, no write


def test_the_writer_flushes_what_it_holds_on_request(live_runtime, job_row):
    use_runtime(live_runtime)
    with live_runtime.transaction() as session:
        session.add(Job(id="j-flush", actor="a", queue="q", status="queued"))
    writer.submit(JobChange("j-flush", {"progress_done": 3, "progress_total": 5}))
    writer.flush()
    assert (job_row("j-flush").progress_done, current_runtime()) == (3, live_runtime)
    with live_runtime.transaction() as session:
        session.execute(update(Job).where(Job.id == "j-flush").values(status="succeeded"))
    use_runtime(None)
