"""The `scheduler` process: enqueues periodic jobs and runs periodic upkeep.

Run exactly one per deployment; if two run by mistake, each tick still acts once: before
acting, a scheduler takes `SET <namespace>:scheduler:<job>:<tick> NX` in Redis.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from actors import alert_upkeep, maintenance, operations_upkeep
from actors.context import current_runtime, setup
from bot.runtime import Runtime

logger = logging.getLogger(__name__)


class Ticks:
    """Runs a periodic job at most once per tick across every scheduler process.

    Parameters:
      name(str): The job's name (its Redis tick key, its APScheduler id).
      every_s(int): The job's period in seconds; also the width of a tick.
      job(callable): Called with the process's runtime.
    """

    def __init__(self, name: str, every_s: int, job: Callable[[Runtime], object]) -> None:
        self.name = name
        self.every_s = every_s
        self.job = job

    def __call__(self) -> None:
        runtime = current_runtime()
        tick = int(time.time() // self.every_s)
        key = runtime.keys("scheduler", self.name, tick)
        try:
            if not runtime.redis.set(key, "1", nx=True, ex=max(self.every_s * 2, 10)):
                return  # another scheduler took this tick
        except Exception:
            logger.warning("scheduler: Redis unavailable, skipping %s this tick", self.name)
            return
        try:
            self.job(runtime)
        except Exception:
            logger.exception("scheduler: periodic job %s failed", self.name)


def periodic_jobs() -> list[Ticks]:
    """Return every periodic job with its period."""
    return [
        # Every 5 s: with WORKER_HEARTBEAT_TIMEOUT_MS (15 s) a killed worker's messages
        # run again within about 20 s.
        Ticks("recover", 5, maintenance.recover),
        Ticks("relay", 5, maintenance.relay),
        # Every minute: jobs whose message Redis lost (it scans the queues' hashes).
        Ticks("stranded", 60, maintenance.requeue_stranded),
        # Every 20 s: a batch is sealed at most 20 s after it is full or old enough
        # (SPEC §12 asks for at least once a minute).
        Ticks("seal_batches", 20, maintenance.seal_batches),
        Ticks("cleanup", 3600, maintenance.clean_up),
        # Alerts (SPEC §15): the pace of every restaurant (the webhook also checks it when
        # a conversation opens), and operator events (each at most once an hour).
        Ticks("alerts-pace", 3600, alert_upkeep.check_pace),
        Ticks("alerts-operator", 60, alert_upkeep.check_operator_events),
        # The dashboard's data: dead letters noted by workers into their SQL index (and
        # the index reconciled with Redis), job outcomes per hour, expired sessions.
        Ticks("dead-letter-index", 5, operations_upkeep.index_dead_letters),
        Ticks("dead-letter-reconcile", 60, operations_upkeep.reconcile_dead_letters),
        Ticks("job-outcomes", 60, operations_upkeep.roll_up_job_outcomes),
        Ticks("dashboard-sessions", 3600, operations_upkeep.end_idle_sessions_now),
    ]


def main() -> None:
    """Run the scheduler until SIGTERM or SIGINT."""
    setup()

    scheduler = BlockingScheduler(timezone="UTC")
    for ticks in periodic_jobs():
        scheduler.add_job(
            ticks,
            "interval",
            seconds=ticks.every_s,
            id=ticks.name,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),  # first run at start, not after one period
        )

    def stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("scheduler: stopping on %s", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("scheduler: started with %d periodic jobs", len(periodic_jobs()))
    scheduler.start()


if __name__ == "__main__":
    main()
