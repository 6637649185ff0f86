"""Real worker processes: a SIGKILLed worker's job runs elsewhere; SIGTERM loses nothing."""

from __future__ import annotations

import os
import signal

import pytest

from tests.support.processes import (
    descendants,
    kill_session,
    process_env,
    scheduler_command,
    service,
    worker_command,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def env(settings, live_runtime, job_actors):
    from actors.context import use_runtime

    use_runtime(live_runtime)  # so that `events()` reads the run's Redis namespace
    yield process_env(settings)
    use_runtime(None)


@pytest.fixture
def events(job_actors):
    return job_actors.events


@pytest.mark.rabbitmq
def test_a_job_of_a_sigkilled_worker_completes_on_another_worker(
    env, events, send_job, job_row, tmp_path, live_runtime
):
    with (
        service(worker_command("test-slow"), env, tmp_path / "a.log") as first,
        service(worker_command("test-slow"), env, tmp_path / "b.log") as second,
        service(scheduler_command(), env, tmp_path / "scheduler.log"),
    ):
        job_id = send_job("slow_job", "test-slow", seconds=3.0, steps=3)
        assert wait_until(lambda: events("started"), timeout=60), "no worker started the job"
        [(_, victim_pid)] = events("started")
        killed = first if _in_session(first, victim_pid) else second
        survivor = second if killed is first else first
        kill_session(killed)
        # Bounded wait (the bound is 2 minutes): heartbeat timeout 5 s + sweep 5 s.
        finished = wait_until(lambda: events("finished"), timeout=120, interval=0.2)
        assert finished, (tmp_path / "scheduler.log").read_text()[-3000:]
        [(finished_id, finisher_pid)] = finished
        assert finished_id == job_id
        assert finisher_pid != victim_pid
        assert _in_session(survivor, finisher_pid)
        row = wait_until(lambda: (row := job_row(job_id)) and row.status == "succeeded" and row)
        assert row, job_row(job_id).__dict__
        assert row.attempts == 1  # the killed attempt never finished
        assert row.progress_step == "done"


@pytest.mark.rabbitmq
def test_sigterm_lets_the_running_job_finish_and_puts_prefetched_ones_back(
    env, events, send_job, job_row, tmp_path, live_runtime, broker
):
    with service(worker_command("test-slow"), env, tmp_path / "worker.log") as worker:
        first = send_job("slow_job", "test-slow", seconds=2.0, steps=2)
        assert wait_until(lambda: events("started"), timeout=60)
        # One thread: these wait in the worker's prefetch buffer or in the queue.
        waiting = [send_job("slow_job", "test-slow", seconds=0.1) for _ in range(3)]
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait(60) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert [job for job, _ in events("finished")] == [first]
    assert wait_until(lambda: job_row(first).status == "succeeded")
    assert all(job_row(job).status == "queued" for job in waiting)
    assert queued_messages(live_runtime.broker, "test-slow") == 3  # requeued, nothing lost
    with service(worker_command("test-slow"), env, tmp_path / "again.log"):
        assert wait_until(lambda: len(events("finished")) == 4, timeout=60)
    assert sorted(job for job, _ in events("finished")) == sorted([first, *waiting])


def queued_messages(broker, queue: str) -> int:
    if hasattr(broker, "do_qsize"):
        return broker.do_qsize(queue)
    return broker.get_queue_message_counts(queue)[0]


def _in_session(process, pid: int) -> bool:
    return pid in descendants(process.pid)
