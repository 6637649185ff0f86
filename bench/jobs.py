"""Job-system benchmark: what tracking costs, and how fast a killed worker's job runs again.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.jobs [--messages 20000]

1. A no-op untracked actor and a no-op tracked actor (Job row per message, written before
   the enqueue like the webhook does), N messages each, on one real `dramatiq` worker
   (2 processes × 8 threads): messages/s of each and the ratio.
2. A worker is SIGKILLed in the middle of a slow tracked job while a second worker and the
   real scheduler run: seconds until the job runs again on the second worker, and until it
   has finished.

Uses a Redis namespace and (by default) a SQLite database of its own; `--database-url`
points it at PostgreSQL. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import func, insert, select

from store.db import make_engine
from store.migrations import upgrade
from store.models import Job
from store.timeutil import utcnow

ROOT = Path(__file__).resolve().parent.parent
DRAMATIQ = str(Path(sys.executable).parent / "dramatiq")


def worker_command(processes: int, threads: int) -> list[str]:
    return [
        DRAMATIQ,
        "actors.context:setup",
        "bench.noop_actors",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--worker-shutdown-timeout",
        "4000",
    ]


class Bench:
    def __init__(self, redis_url: str, database_url: str, heartbeat_ms: int) -> None:
        self.namespace = f"rbbench-{uuid.uuid4().hex[:8]}"
        self.redis = redis.Redis.from_url(redis_url)
        self.broker = RedisBroker(client=self.redis, namespace=self.namespace, middleware=[])
        self.engine = make_engine(database_url)
        upgrade(self.engine)
        self.env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "REDIS_NAMESPACE": self.namespace,
            "LOG_LEVEL": "WARNING",
            "WORKER_HEARTBEAT_TIMEOUT_MS": str(heartbeat_ms),
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True)
        self.processes.append(process)
        return process

    def wait_for_heartbeats(self, count: int, timeout: float = 30) -> None:
        key = f"{self.namespace}:__heartbeats__"
        deadline = time.monotonic() + timeout
        while self.redis.zcard(key) < count:
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not start")
            time.sleep(0.1)

    def push(self, queue: str, actor: str, ids: list[str]) -> None:
        """Put messages on `queue` the way Dramatiq's enqueue script does, in one pipeline."""
        pipe = self.redis.pipeline(transaction=False)
        for n, message_id in enumerate(ids):
            redis_id = str(uuid.uuid4())
            message = dramatiq.Message(
                queue_name=queue,
                actor_name=actor,
                args=(n,),
                kwargs={},
                options={"redis_message_id": redis_id},
                message_id=message_id,
            )
            pipe.hset(f"{self.namespace}:{queue}.msgs", redis_id, message.encode())
            pipe.rpush(f"{self.namespace}:{queue}", redis_id)
        pipe.execute()

    def drain_time(self, queue: str, actor: str, count: int, tracked: bool) -> float:
        ids = [str(uuid.uuid4()) for _ in range(count)]
        if tracked:
            now = utcnow()
            rows = [
                {
                    "id": i,
                    "actor": actor,
                    "queue": queue,
                    "status": "queued",
                    "created_at": now,
                    "enqueued_at": now,
                    "updated_at": now,
                }
                for i in ids
            ]
            with self.engine.begin() as connection:
                connection.execute(insert(Job), rows)
        started = time.monotonic()
        self.push(queue, actor, ids)
        while self.broker.do_qsize(queue):
            time.sleep(0.02)
        # Tracking's work is done when the rows say so (they are written a moment later).
        while tracked and self.unfinished(ids):
            time.sleep(0.02)
        return time.monotonic() - started

    def unfinished(self, ids: list[str]) -> int:
        with self.engine.connect() as connection:
            query = select(func.count()).where(Job.id.in_(ids), Job.status != "succeeded")
            return connection.scalar(query) or 0

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        keys = list(self.redis.scan_iter(match=f"{self.namespace}:*", count=1000))
        if keys:
            self.redis.delete(*keys)


def throughput(bench: Bench, messages: int, processes: int, threads: int, rounds: int) -> None:
    worker = bench.start(worker_command(processes, threads))
    bench.wait_for_heartbeats(processes)
    bench.drain_time("bench-untracked", "noop_untracked", 500, tracked=False)  # warm up
    bench.drain_time("bench-tracked", "noop_tracked", 500, tracked=True)
    # Alternating rounds, median of each: other load on the machine moves single figures.
    plain_runs, tracked_runs = [], []
    for _ in range(rounds):
        plain_runs.append(bench.drain_time("bench-untracked", "noop_untracked", messages, False))
        tracked_runs.append(bench.drain_time("bench-tracked", "noop_tracked", messages, True))
    plain, tracked = statistics.median(plain_runs), statistics.median(tracked_runs)
    with bench.engine.connect() as connection:
        done = dict(connection.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    plain_rate, tracked_rate = messages / plain, messages / tracked
    print(
        f"messages: {messages} per round, {rounds} rounds each, median;"
        f" worker {processes} processes x {threads} threads"
    )
    print(
        f"untracked no-op: {plain:6.2f} s  {plain_rate:8.0f} messages/s"
        f"  (rounds: {', '.join(f'{messages / t:.0f}' for t in plain_runs)})"
    )
    print(
        f"tracked no-op:   {tracked:6.2f} s  {tracked_rate:8.0f} messages/s"
        f"  (rounds: {', '.join(f'{messages / t:.0f}' for t in tracked_runs)}; jobs: {done})"
    )
    print(
        f"tracked/untracked throughput: {tracked_rate / plain_rate:.2f}"
        f"  (tracking costs {100 * (1 - tracked_rate / plain_rate):.0f} %,"
        f" {1000 * (tracked - plain) / messages * processes * threads:.2f} ms per message"
        " of one worker thread)"
    )
    os.kill(worker.pid, signal.SIGTERM)
    worker.wait(30)


def recovery(bench: Bench) -> None:
    first = bench.start(worker_command(1, 2))
    bench.wait_for_heartbeats(1)
    job_id = str(uuid.uuid4())
    now = utcnow()
    with bench.engine.begin() as connection:
        connection.execute(
            insert(Job),
            [
                {
                    "id": job_id,
                    "actor": "sleepy",
                    "queue": "bench-slow",
                    "status": "queued",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    message = dramatiq.Message(
        queue_name="bench-slow",
        actor_name="sleepy",
        args=(3.0,),
        kwargs={},
        options={},
        message_id=job_id,
    )
    bench.broker.enqueue(message)

    def job() -> tuple[str, str | None]:
        with bench.engine.connect() as connection:
            row = connection.execute(
                select(Job.status, Job.worker_id).where(Job.id == job_id)
            ).one()
            return row.status, row.worker_id

    while job()[0] != "running":
        time.sleep(0.05)
    dead_worker = job()[1]
    second = bench.start(worker_command(1, 2))
    bench.start([sys.executable, "-m", "actors.scheduler"])
    time.sleep(1.0)
    os.killpg(first.pid, signal.SIGKILL)
    killed = time.monotonic()
    print(
        f"SIGKILLed the worker running job {job_id[:8]}… "
        f"(heartbeat timeout {bench.env['WORKER_HEARTBEAT_TIMEOUT_MS']} ms)"
    )
    while True:
        status, worker = job()
        if status == "running" and worker != dead_worker:
            print(f"running again on another worker after {time.monotonic() - killed:5.1f} s")
            break
        if time.monotonic() - killed > 300:
            print("not running again after 300 s")
            return
        time.sleep(0.1)
    while job()[0] != "succeeded":
        time.sleep(0.1)
    print(f"succeeded after {time.monotonic() - killed:5.1f} s")
    del second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--heartbeat-ms", type=int, default=15_000)
    parser.add_argument("--skip-recovery", action="store_true")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
        bench = Bench(redis_url, database_url, args.heartbeat_ms)
        print(f"database: {bench.engine.dialect.name}, Redis namespace {bench.namespace}")
        try:
            throughput(bench, args.messages, args.processes, args.threads, args.rounds)
            if not args.skip_recovery:
                recovery(bench)
        finally:
            bench.stop_all()


if __name__ == "__main__":
    main()
