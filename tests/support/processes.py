"""Real `dramatiq` worker and scheduler processes for tests that kill or stop them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from store.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Return the environment of a service process that shares the test run's data."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEST_", "PYTEST_", "PROMETHEUS_MULTIPROC_DIR"))
    }
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=str(settings.redis_url),
        REDIS_NAMESPACE=settings.redis_namespace,
        WORKER_HEARTBEAT_TIMEOUT_MS=str(settings.worker_heartbeat_timeout_ms),
        QUEUE_BACKOFF_DELAY=str(settings.queue_backoff_delay_ms),
        QUEUE_MAX_BACKOFF=str(settings.queue_max_backoff_ms),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    if settings.broker_url:
        env["BROKER_URL"] = settings.broker_url
    env.update(extra)
    return env


@contextmanager
def service(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in a session of its own; kill what is left of it afterwards."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            kill_session(process)


def kill_session(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL `process` and every process under it (only ours), and reap it.

    Our worker wrapper runs `dramatiq` in a session of its own, so the sessions of the
    descendants are killed too, not only the group `process` leads.
    """
    for pid in [process.pid, *descendants(process.pid)]:
        for kill in (os.killpg, os.kill):
            with suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)
    process.wait(10)


def descendants(pid: int) -> list[int]:
    """Return the pids of every living process under `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def worker_command(
    *queues: str, processes: int = 1, threads: int = 1, actors: str = "tests.support.job_actors"
) -> list[str]:
    """Return the command of a worker (through our wrapper): the test actors by default,
    `actors="actors.worker"` for the service's own."""
    command = [
        sys.executable,
        "-m",
        "actors.run_worker",
        "actors.context:setup",
        actors,
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--worker-shutdown-timeout",
        "15000",
    ]
    if queues:
        command += ["--queues", *queues]
    return command


def scheduler_command() -> list[str]:
    """Return the command of the scheduler process."""
    return [sys.executable, "-m", "actors.scheduler"]


def on_rabbitmq() -> bool:
    """Return True when this run's broker is RabbitMQ (`BROKER_URL=amqp://…`)."""
    return os.environ.get("BROKER_URL", "").startswith(("amqp://", "amqps://"))
