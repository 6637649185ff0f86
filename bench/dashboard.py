"""Benchmark of the dashboard's operator pages (issue 13) on PostgreSQL: run by hand.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.dashboard [--requests 300]

Creates a database of its own (`bench_dash_<random>`) and a Redis namespace of its own,
loads 10,000 restaurants (with six months of usage counters), 1,000,000 jobs over 30 days
and 100,000 dead letters (index rows in SQL, letters in Redis) with set-based SQL and
pipelined Redis writes, rolls the job outcomes up once (timed: the scheduler's first
tick), then signs in as an admin and measures every page through the real Flask app (its
test client: the WSGI app, no network) — p50/p99 and SQL statements per request — with
`/healthz` as the baseline of the same run. Database and namespace are removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bench.support import redis_url
from bench.usage_api import _cpu_model
from bot import create_app
from bot.runtime import Runtime
from operations import job_outcomes
from store import credentials
from store.db import make_engine
from store.migrations import upgrade
from store.settings import Settings
from store.timeutil import utcnow

RESTAURANTS = 10_000
JOBS = 1_000_000
DEAD_LETTERS = 100_000
GOAL_MS = 50.0
PAGES = [
    ("overview", "/dashboard/admin/overview"),
    ("restaurants", "/dashboard/admin/restaurants"),
    ("restaurants, page 150", "/dashboard/admin/restaurants?page=150"),
    (
        "restaurants by conversations",
        "/dashboard/admin/restaurants?sort=conversationsThisMonth&order=desc",
    ),
    ("restaurants by last activity", "/dashboard/admin/restaurants?sort=lastActivity&order=desc"),
    ("restaurants by left today", "/dashboard/admin/restaurants?sort=dailyRemaining"),
    ("restaurants, search", "/dashboard/admin/restaurants?q=rest0042"),
    ("jobs", "/dashboard/admin/jobs"),
    ("jobs, dead, last day", "/dashboard/admin/jobs?status=dead&after={yesterday}"),
    ("jobs of a restaurant", "/dashboard/admin/jobs?restaurant=rest00042"),
    ("jobs, page 100", "/dashboard/admin/jobs?page=100"),
    ("jobs.json (polled)", "/dashboard/admin/jobs.json"),
    ("dead letters", "/dashboard/admin/dead-letters"),
    ("dead letters, error class", "/dashboard/admin/dead-letters?errorClass=TwilioError:63016"),
    ("dead letters, restaurant", "/dashboard/admin/dead-letters?restaurantId=rest00042"),
    (
        "bulk preview",
        "/dashboard/admin/dead-letters/confirm?action=retry&errorClass=CatalogUnavailable",
    ),
    ("breakers", "/dashboard/admin/breakers"),
    ("owner usage (read-only)", "/dashboard/r/rest00042/usage"),
]
ZONES = ["UTC", "Asia/Riyadh", "Asia/Dubai", "Europe/London", "America/New_York"]


@contextmanager
def bench_database(server: str) -> Iterator[str]:
    name = f"bench_dash_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped database {name}")


def load_sql(database_url: str) -> None:
    """Restaurants, usage counters, jobs and the dead-letter index, set-based."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    zones = "ARRAY[" + ",".join(f"'{z}'" for z in ZONES) + "]"
    started = time.perf_counter()
    with psycopg.connect(dsn) as connection:
        run = connection.execute
        run(
            f"""INSERT INTO restaurants (id, name, whatsapp_number, merchant_id, timezone,
                   is_active, created_at)
            SELECT 'rest' || lpad(n::text, 5, '0'), 'Restaurant ' || n, '+9665' || lpad(n::text, 8, '0'),
                   'm' || (n % 500), ({zones})[1 + n % 5], n % 50 <> 0, now() - interval '200 days'
            FROM generate_series(0, {RESTAURANTS - 1}) n"""
        )
        run(
            """INSERT INTO restaurant_bots (restaurant_id, max_messages_per_day,
                   max_messages_per_min, max_conversations_per_month, template_sids, enabled,
                   created_at, updated_at)
            SELECT id, 1000, 60, 30000, '{}', true, now(), now() FROM restaurants"""
        )
        run(
            """INSERT INTO monthly_usage (restaurant_id, year, month, conversation_count,
                   message_count, last_conversation_at, first_message_at, last_message_at)
            SELECT r.id, extract(year FROM m)::int, extract(month FROM m)::int,
                   (hashtext(r.id || m::text) & 1023), (hashtext(r.id || m::text) & 8191),
                   m + interval '20 days', m + interval '1 hour', m + interval '25 days'
            FROM restaurants r,
                 generate_series(date_trunc('month', now()) - interval '5 months',
                                 date_trunc('month', now()), interval '1 month') m"""
        )
        run(
            """INSERT INTO daily_usage (restaurant_id, date, message_count)
            SELECT id, d::date, hashtext(id) & 511 FROM restaurants,
                   generate_series(current_date - 1, current_date + 1, interval '1 day') d"""
        )
        run(
            f"""INSERT INTO jobs (id, actor, queue, restaurant_id, status, attempts,
                   progress_done, progress_total, created_at, enqueued_at, started_at,
                   finished_at, updated_at, error)
            SELECT md5(n::text), (ARRAY['welcome_bootstrap','deliver_message','send_deferred_replies'])[1 + n % 3],
                   (ARRAY['bootstrap','delivery','replies'])[1 + n % 3],
                   'rest' || lpad((n % {RESTAURANTS})::text, 5, '0'),
                   CASE WHEN n % 100 = 0 THEN 'dead' WHEN n % 97 = 0 THEN 'failed'
                        WHEN n % 5000 = 1 THEN 'queued' WHEN n % 7000 = 2 THEN 'running'
                        ELSE 'succeeded' END,
                   1, 0, 0, t, t, t, t + interval '2 seconds', t + interval '2 seconds',
                   CASE WHEN n % 100 = 0 THEN 'CatalogUnavailable: down' END
            FROM (SELECT n, now() - (n * interval '30 days' / {JOBS}) AS t
                  FROM generate_series(1, {JOBS}) n) s"""
        )
        run("UPDATE jobs SET finished_at = NULL WHERE status IN ('queued', 'running')")
        run(
            f"""INSERT INTO dead_letter_index (message_id, queue, redis_id, actor,
                   restaurant_id, error_class, last_error, attempts, arguments, dead_lettered_at)
            SELECT 'dl' || n, 'bootstrap', 'r' || n, 'welcome_bootstrap',
                   'rest' || lpad((n % {RESTAURANTS})::text, 5, '0'),
                   (ARRAY['CatalogUnavailable','TwilioError:63016','CatalogRejected','MalformedMessage'])[1 + n % 4],
                   'CatalogUnavailable: down', 4, '{{"args": [], "kwargs": {{}}}}',
                   now() - (n * interval '7 days' / {DEAD_LETTERS})
            FROM generate_series(1, {DEAD_LETTERS}) n"""
        )
        run(
            """INSERT INTO audit_entries (key_prefix, action, filter, ids, count, at)
            SELECT 'rbkey_bench000', 'dead_letters.retry', '{"errorClass": "CatalogUnavailable"}',
                   NULL, n, now() - n * interval '1 minute' FROM generate_series(1, 1000) n"""
        )
        connection.commit()
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")
    print(
        f"loaded {RESTAURANTS:,} restaurants, {JOBS:,} jobs, {DEAD_LETTERS:,} dead-letter rows"
        f" in {time.perf_counter() - started:.1f} s"
    )


def load_redis(runtime: Runtime) -> None:
    """The 100,000 dead letters where Dramatiq keeps them (so the counts are real)."""
    started = time.perf_counter()
    key = f"{runtime.settings.redis_namespace}:bootstrap.XQ"
    now_ms = int(time.time() * 1000)
    pipe = runtime.redis.pipeline(transaction=False)
    for n in range(1, DEAD_LETTERS + 1):
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name="bootstrap",
            actor_name="welcome_bootstrap",
            args=(),
            kwargs={"restaurant_id": f"rest{n % RESTAURANTS:05d}"},
            options={"redis_message_id": f"r{n}"},
            message_id=f"dl{n}",
        )
        pipe.hset(key + ".msgs", f"r{n}", message.encode())
        pipe.zadd(key, {f"r{n}": now_ms - n})
        if n % 5000 == 0:
            pipe.execute()
    pipe.execute()
    print(
        f"loaded {DEAD_LETTERS:,} dead letters into Redis in {time.perf_counter() - started:.1f} s"
    )


def measure(
    name: str, count: int, request: Callable[[], Any], statements: list[str]
) -> dict[str, Any]:
    """Time `count` requests after a warm-up: wall time, and this process's CPU time
    (the app's own work, whatever else the machine is doing); count the statements."""
    for _ in range(50):
        request()
    wall, cpu, per_request = [], [], set()
    for _ in range(count):
        statements.clear()
        started, used = time.perf_counter(), time.process_time()
        response = request()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        per_request.add(len(statements))
    cuts = statistics.quantiles(wall, n=100, method="inclusive")
    return {
        "name": name,
        "count": count,
        "p50": statistics.median(wall),
        "p99": cuts[98],
        "max": max(wall),
        "cpu": statistics.median(cpu),
        "statements": sorted(per_request),
    }


def run(database_url: str, redis: str, requests: int) -> list[dict[str, Any]]:
    namespace = f"bench-dash-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url,
        redis_url=redis,
        redis_namespace=namespace,
        host="127.0.0.1",
        log_level="WARNING",
        secret_key="bench-secret-key-0123456789abcdef",
    )
    runtime = Runtime(settings, engine=make_engine(database_url))
    try:
        load_redis(runtime)
        started = time.perf_counter()
        with runtime.transaction() as session:
            rows = job_outcomes.refresh(session, now=utcnow(), retention_days=31)
        first = time.perf_counter() - started
        started = time.perf_counter()
        with runtime.transaction() as session:
            job_outcomes.refresh(session, now=utcnow(), retention_days=31)
        tick = time.perf_counter() - started
        print(
            f"job outcome rollup: first run {first:.2f} s ({rows:,} rows), a tick {tick * 1000:.0f} ms"
        )
        app = create_app(runtime=runtime)
        client = app.test_client()
        with runtime.transaction() as session:
            key = credentials.create_api_key(session, name="bench").secret
        page = client.get("/dashboard/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        answer = client.post(
            "/dashboard/login", data={"csrf_token": token.group(1), "api_key": key}
        )
        assert answer.status_code == 302, answer.status_code
        statements: list[str] = []
        event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        yesterday = f"{utcnow() - dt.timedelta(days=1):%Y-%m-%dT%H:%M}"
        results = [
            measure("baseline: /healthz", requests, lambda: client.get("/healthz"), statements)
        ]
        for name, path in PAGES:
            url = path.format(yesterday=yesterday)
            results.append(measure(name, requests, lambda url=url: client.get(url), statements))
        started = time.perf_counter()
        csv = client.get("/dashboard/admin/restaurants.csv").get_data(as_text=True)
        print(
            f"CSV of {csv.count(chr(10)) - 1:,} restaurants streamed in {time.perf_counter() - started:.2f} s"
        )
        return results
    finally:
        for key in runtime.redis.scan_iter(match=f"{namespace}:*", count=1000):
            runtime.redis.delete(key)
        runtime.close()


def report(results: list[dict[str, Any]], server_version: str) -> None:
    import platform

    print()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, {_cpu_model()}")
    print(f"python {platform.python_version()}, {server_version}, date {utcnow():%Y-%m-%d}")
    print(f"load average at the end: {', '.join(f'{n:.1f}' for n in os.getloadavg())}")
    print()
    print(
        "| page | requests | p50 ms | p99 ms | max ms | app CPU ms (p50) | p99 ≤ 50 ms"
        " | statements |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for r in results:
        baseline = r["name"].startswith("baseline")
        verdict = "—" if baseline else ("ok" if r["p99"] <= GOAL_MS else "MISSED")
        print(
            f"| {r['name']} | {r['count']:,} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.2f}"
            f" | {r['cpu']:.2f} | {verdict} | {', '.join(map(str, r['statements']))} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=300, help="per page")
    args = parser.parse_args()
    with psycopg.connect(args.server) as connection:
        version = connection.execute("SHOW server_version").fetchone()
    server_version = f"PostgreSQL {version[0] if version else '?'}"
    with redis_url() as redis, bench_database(args.server) as database_url:
        engine = make_engine(database_url)
        upgrade(engine)
        engine.dispose()
        load_sql(database_url)
        results = run(database_url, redis, args.requests)
    report(results, server_version)


if __name__ == "__main__":
    main()
