"""What the benchmarks share: services of their own, gunicorn like the Procfile, a load client."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import secrets
import shlex
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def redis_url() -> Iterator[str]:
    """Yield REDIS_URL when set, else start an embedded server for the benchmark."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from localdev.embedded_redis import EmbeddedRedis

    with EmbeddedRedis() as server:
        yield server.url


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """Yield the URL of a fresh database of the benchmark's own (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    from localdev.embedded_redis import free_port as pick

    return pick()


def procfile_line(name: str) -> str:
    """Return the Procfile's command line for process `name`."""
    from localdev.run import read_procfile

    return read_procfile()[name]


@contextmanager
def process(
    command: str, env: dict[str, str], ready_url: str | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` (shell syntax, like a Procfile line) until the block ends; its output
    goes to `log` when given. Yields the process."""
    with (log or Path(os.devnull)).open("ab") as output:  # the child keeps its own copy
        child = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=output,
            stderr=output,
        )
    try:
        if ready_url:
            wait_ready(ready_url, child)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_ready(url: str, child: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"process for {url} exited with {child.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError as error:
            if getattr(error, "code", None):  # an HTTP error status: the server is up
                return
            time.sleep(0.1)
    raise SystemExit(f"{url} not ready in {timeout}s")


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) of process `pid` and all its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            with open(f"/proc/{current}/task/{current}/children") as children:
                pending += [int(child) for child in children.read().split()]
        except OSError:
            continue  # it exited meanwhile
    return total


def shell_env(**values: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # The web process refuses to start without it (it signs dashboard sessions).
    env.setdefault("SECRET_KEY", secrets.token_hex(32))
    env.update(values)
    return env


def run(command: list[str], env: dict[str, str]) -> str:
    return subprocess.run(
        command, env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def _client_process(
    port: int, path: str, requests: list[tuple[bytes, dict[str, str]]], threads: int, out
) -> None:
    chunks = [requests[i::threads] for i in range(threads)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def drive(chunk: list[tuple[bytes, dict[str, str]]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for body, headers in chunk:
            start = time.perf_counter()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                with lock:
                    errors[0] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=drive, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put((latencies, errors[0]))


def load(
    port: int,
    path: str,
    requests: list[tuple[bytes, dict[str, str]]],
    concurrency: int = 16,
    processes: int = 4,
) -> dict[str, float]:
    """POST every request with `concurrency` keep-alive connections; return rate and latencies."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    per_process = [requests[i::processes] for i in range(processes)]
    children = [
        context.Process(
            target=_client_process, args=(port, path, part, concurrency // processes, queue)
        )
        for part in per_process
    ]
    start = time.perf_counter()
    for child in children:
        child.start()
    latencies: list[float] = []
    errors = 0
    for _ in children:
        part, failed = queue.get()
        latencies.extend(part)
        errors += failed
    elapsed = time.perf_counter() - start
    for child in children:
        child.join()
    return summarize(latencies, elapsed, errors)


def summarize(latencies: list[float], elapsed: float, errors: int = 0) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rate": len(ordered) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(ordered, 50) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000 if ordered else 0.0,
        "errors": errors,
    }


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def quote(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)
