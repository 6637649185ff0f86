"""Jobs whose database connections the server closed run once more in the same attempt, on a
fresh connection, instead of failing it (issue 11)."""

import logging
import uuid

import dramatiq
import pytest

from tests.support import factories
from tests.support.databases import backend_name
from tests.support.pg_connections import fill_pool, runtime_of_its_own, terminate_backends
from tests.support.waiting import wait_until

pytestmark = pytest.mark.skipif(
    backend_name() != "postgresql",
    reason="needs a database server that closes connections (pg_terminate_backend); "
    "SQLite has none",
)

ONCE_MORE = "running it once more on a fresh connection"


@pytest.fixture
def pool_runtime(settings, engine):
    with runtime_of_its_own(settings, engine) as runtime:
        yield runtime


@pytest.fixture
def start_worker(broker, job_actors, pool_runtime):
    """Start an in-process worker whose actors use `pool_runtime` (call it when ready)."""
    from actors.context import use_runtime

    started: list[dramatiq.Worker] = []

    def start() -> dramatiq.Worker:
        use_runtime(pool_runtime)
        running = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
        running.start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
        broker.middleware[:] = [
            m for m in broker.middleware if getattr(m, "worker", None) is not running
        ]
    use_runtime(None)


def test_a_job_whose_connection_the_server_closed_succeeds_in_one_attempt(
    pool_runtime, settings, job_actors, start_worker, job_row, caplog
):
    with pool_runtime.transaction() as session:
        factories.restaurant(session, settings)
    gate = uuid.uuid4().hex
    start_worker()
    message = job_actors.count_restaurants_job.send(gate=gate)
    # The job is running (its row says so): its first statement waits for the gate. The
    # test reads through the run's own pool, never the one it closes.
    assert wait_until(lambda: getattr(job_row(message.message_id), "status", None))
    fill_pool(pool_runtime.engine, 2)
    assert terminate_backends(pool_runtime.engine) >= 2

    with caplog.at_level(logging.WARNING):
        pool_runtime.redis.set(pool_runtime.keys("test", "gate", gate), 1)
        done = wait_until(
            lambda: (
                getattr(job_row(message.message_id), "status", None)
                in ("succeeded", "failed", "dead")
            ),
            timeout=30,
        )

    assert done
    row = job_row(message.message_id)
    assert (row.status, row.attempts, row.result) == ("succeeded", 1, {"restaurants": 1})
    lines = [r for r in caplog.records if ONCE_MORE in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in lines] == ["job count_restaurants_job"]
