"""Benchmark of the owner's "Messages that failed" page on PostgreSQL: run by hand.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.owner_failures [--requests 300]

Creates a database of its own (`bench_fail_<random>`), loads 10,000 restaurants with a
year of messages — 200 each, and one busy restaurant (`busy`) with 3,000 a day, half of
them outbound, 1 % of those failed with assorted Twilio codes — written in time order so
every restaurant's rows are spread over the table as they are in production. Then signs in
as `busy`'s owner and as a small restaurant's owner and measures the page (7 and 30 days)
through the real Flask app (test client, no network): p50/p99 and SQL statements per
request, and the plan of the grouping statement. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time
import uuid
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bench.dashboard import bench_database, measure, report
from bench.support import redis_url
from bot import create_app
from bot.runtime import Runtime
from store import credentials
from store.db import make_engine
from store.migrations import upgrade
from store.settings import Settings

RESTAURANTS = 10_000
PER_RESTAURANT = 200  # a year of messages at a quiet restaurant
BUSY_PER_DAY = 3_000  # messages a day at the busy one, in and out
CODES = "ARRAY['63016','21610','63024','30008','30007','63018','21211',NULL]"


def load_sql(database_url: str) -> int:
    """Restaurants, customers and a year of messages, set-based; return the message count."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    started = time.perf_counter()
    with psycopg.connect(dsn) as connection:
        run = connection.execute
        run(
            f"""INSERT INTO restaurants (id, name, whatsapp_number, merchant_id, timezone,
                   is_active, created_at)
            SELECT CASE WHEN n = 0 THEN 'busy' ELSE 'rest' || lpad(n::text, 5, '0') END,
                   'Restaurant ' || n, '+9665' || lpad(n::text, 8, '0'), 'm' || n,
                   'Asia/Riyadh', true, now() - interval '400 days'
            FROM generate_series(0, {RESTAURANTS - 1}) n"""  # noqa: S608 (our constants)
        )
        run(
            """INSERT INTO restaurant_bots (restaurant_id, max_messages_per_day,
                   max_messages_per_min, max_conversations_per_month, template_sids, enabled,
                   created_at, updated_at)
            SELECT id, 5000, 60, 30000, '{}', true, now(), now() FROM restaurants"""
        )
        run(
            """INSERT INTO customers (restaurant_id, address, created_at)
            SELECT 'busy', '+96655' || lpad(n::text, 7, '0'), now() - interval '400 days'
            FROM generate_series(1, 20000) n"""
        )
        busy = BUSY_PER_DAY * 365
        quiet = (RESTAURANTS - 1) * PER_RESTAURANT
        # Every message of the year in time order, so a restaurant's rows are spread over
        # the table's pages as they are in production (not packed together by the load).
        run(
            f"""INSERT INTO messages (restaurant_id, customer_id, direction, body, status,
                   error_code, send_attempts, send_timeouts, created_at, updated_at)
            SELECT restaurant_id, customer_id, direction, 'Hello, here is our menu', status,
                   error_code, 1, 0, at, at
            FROM (
              SELECT 'busy' AS restaurant_id, (SELECT min(id) FROM customers) + n % 20000
                       AS customer_id,
                     CASE WHEN n % 2 = 0 THEN 'inbound' ELSE 'outbound' END AS direction,
                     CASE WHEN n % 2 = 0 THEN 'received'
                          WHEN n % 200 = 1 THEN 'failed' ELSE 'delivered' END AS status,
                     CASE WHEN n % 200 = 1 THEN ({CODES})[1 + (n / 200) % 8] END AS error_code,
                     now() - (n * interval '365 days' / {busy}) AS at
              FROM generate_series(1, {busy}) n
              UNION ALL
              SELECT 'rest' || lpad((1 + n % {RESTAURANTS - 1})::text, 5, '0'), NULL,
                     CASE WHEN n % 2 = 0 THEN 'inbound' ELSE 'outbound' END,
                     CASE WHEN n % 2 = 0 THEN 'received'
                          WHEN n % 200 = 1 THEN 'failed' ELSE 'delivered' END,
                     CASE WHEN n % 200 = 1 THEN '63016' END,
                     now() - (n * interval '365 days' / {quiet})
              FROM generate_series(1, {quiet}) n
            ) m
            ORDER BY at"""  # noqa: S608 (our constants)
        )
        connection.commit()
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")
    total = busy + quiet
    print(
        f"loaded {RESTAURANTS:,} restaurants, {total:,} messages"
        f" in {time.perf_counter() - started:.1f} s"
    )
    return total


def plan(database_url: str, days: int) -> str:
    """Return the plan (EXPLAIN ANALYZE) of the grouping statement for `busy`."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            f"""EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
            SELECT coalesce(error_code, ''), count(*) OVER w, max(updated_at) OVER w,
                   row_number() OVER (PARTITION BY coalesce(error_code, '')
                                      ORDER BY updated_at DESC, id DESC)
            FROM messages
            WHERE restaurant_id = 'busy' AND created_at >= now() - interval '{days} days'
              AND created_at < now() AND direction = 'outbound'
              AND status IN ('failed', 'undelivered')
            WINDOW w AS (PARTITION BY coalesce(error_code, ''))"""  # noqa: S608
        ).fetchall()
    return "\n".join(row[0] for row in rows)


def sql_timing(database_url: str, days: int, count: int = 300) -> str:
    """Return p50/p99 of the page's failures statement alone (warm), run `count` times."""
    import statistics

    from sqlalchemy.orm import Session

    from bot.failed_messages import failures_by_code
    from store.timeutil import utcnow

    engine = make_engine(database_url)
    times = []
    with Session(engine) as session:
        for _ in range(count + 20):
            end = utcnow()
            started = time.perf_counter()
            failures_by_code(session, "busy", end - dt.timedelta(days=days), end)
            times.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    times = times[20:]
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    p50 = statistics.median(times)
    return f"statement alone, busy, {days} days: p50 {p50:.2f} ms, p99 {cuts[98]:.2f} ms"


def run(database_url: str, redis: str, requests: int) -> list[dict[str, Any]]:
    settings = Settings(
        database_url=database_url,
        redis_url=redis,
        redis_namespace=f"bench-fail-{uuid.uuid4().hex[:8]}",
        host="127.0.0.1",
        log_level="WARNING",
        secret_key="bench-secret-key-0123456789abcdef",
    )
    runtime = Runtime(settings, engine=make_engine(database_url))
    try:
        app = create_app(runtime=runtime)
        statements: list[str] = []
        event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        results = []
        for restaurant_id in ("busy", "rest00042"):
            client = app.test_client()
            with runtime.transaction() as session:
                token = credentials.create_pat(
                    session, restaurant_id=restaurant_id, expires_in_days=None
                ).secret
            page = client.get("/dashboard/login").get_data(as_text=True)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert csrf is not None
            answer = client.post(
                "/dashboard/login",
                data={"csrf_token": csrf.group(1), "restaurant_id": restaurant_id, "token": token},
            )
            assert answer.status_code == 302, answer.status_code
            for days in (7, 30):
                url = f"/dashboard/r/{restaurant_id}/failures?days={days}"
                name = f"failures, {restaurant_id}, {days} days"
                results.append(
                    measure(name, requests, lambda u=url, c=client: c.get(u), statements)
                )
        return results
    finally:
        runtime.close()


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
        for days in (7, 30):
            print(f"\nplan, busy, {days} days:\n{plan(database_url, days)}")
        for days in (7, 30):
            print(sql_timing(database_url, days))
        results = run(database_url, redis, args.requests)
    report(results, server_version)


if __name__ == "__main__":
    main()
