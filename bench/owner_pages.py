"""Benchmark of the owners' pages (issue 16) on PostgreSQL: run by hand.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.owner_pages [--requests 300]

Creates a database of its own (`bench_<random>`, `bench.support.database`) and a Redis
namespace of its own and fills them with the other benchmarks' seeding, set-based SQL only:

- `bench.dashboard.load_sql`: 10,000 restaurants with bots and usage counters, jobs over
  30 days (`--jobs`, default 300,000: the dashboard bench's 1,000,000 took 3 minutes to
  load), 100,000 dead-letter rows, audit entries; then a year of monthly counters and 60
  days of daily ones (conversations per local day: what the pace reads);
- `bench.insights`' aggregate SQL: a year of conversation aggregates — every restaurant
  100 active hours, the first 10 busy ones every hour of the year — with their keys,
  texts and daily rows;
- `bench.order_insights`' order aggregates: a year of orders — one trading hour a week
  at the ordinary restaurants, twelve a day at the 10 busy ones — with a succeeded
  import each.

Then every owner page the app has (`owner_views.OWNER_PAGES` found in its `url_map`: the
pages added later are measured as soon as they exist) is requested N times through the
real Flask app (its test client: the WSGI app, no network) by signed-in owner sessions
of 20 restaurants (5 busy, 15 ordinary) in turn: server time p50/p99 and SQL statements
per request. Baseline, same run: `GET /api/usage?include=forecast` with the same owners'
PATs. Database and namespace are removed at the end (`--keep` keeps the database, for
`--reuse <url>` runs that measure again without loading; drop it by hand afterwards).
"""

from __future__ import annotations

import argparse
import itertools
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from bench import dashboard as dashboard_bench
from bench import insights as insight_bench
from bench import order_insights as order_bench
from bench.dashboard import load_sql, measure, report
from bench.support import database, redis_url
from bot import create_app
from bot.runtime import Runtime
from dashboard.owner_views import OWNER_PAGES
from insights.models import HOURS_OF_DAY, MEASURES
from store import credentials
from store.db import make_engine
from store.migrations import upgrade
from store.settings import Settings

# Days of daily counters (10,000 rows a day): the pages read today's and the 7 before;
# a year of them took minutes to load and is read by nothing.
DAILY_DAYS = 60
BUSY = [f"rest{n:05d}" for n in range(10)]  # every hour of the year busy
OWNERS = BUSY[:5] + [f"rest{n:05d}" for n in range(1001, 10_000, 666)]  # 5 busy, 15 not


def load_year(database_url: str) -> None:
    """A year of usage counters, conversation aggregates and orders for the restaurants
    `bench.dashboard.load_sql` wrote."""
    engine = make_engine(database_url)
    started = time.perf_counter()
    with engine.begin() as connection:
        run = connection.execute
        run(
            text(
                f"""INSERT INTO daily_usage (restaurant_id, date, message_count, conversation_count)
                SELECT id, d::date, hashtext(id || d::text) & 255, hashtext(d::text || id) & 31
                FROM restaurants, generate_series(current_date - {DAILY_DAYS},
                                                  current_date - 2, interval '1 day') d"""  # noqa: S608
            )
        )
        run(
            text(
                """UPDATE daily_usage
                SET conversation_count = hashtext(date::text || restaurant_id) & 31
                WHERE date >= current_date - 1"""
            )
        )
        run(
            text(
                """INSERT INTO monthly_usage (restaurant_id, year, month, conversation_count,
                       message_count, last_conversation_at, first_message_at, last_message_at)
                SELECT r.id, extract(year FROM m)::int, extract(month FROM m)::int,
                       hashtext(r.id || m::text) & 1023, hashtext(r.id || m::text) & 8191,
                       m + interval '20 days', m + interval '1 hour', m + interval '25 days'
                FROM restaurants r,
                     generate_series(date_trunc('month', now()) - interval '12 months',
                                     date_trunc('month', now()) - interval '6 months',
                                     interval '1 month') m"""
            )
        )
        # Conversation aggregates (bench/insights.py's SQL): 100 active hours a year each,
        # every hour of the year at the busy ones.
        hourly = insight_bench.HOURLY_SQL.replace("r.id LIKE :prefix", ":where")
        assert hourly != insight_bench.HOURLY_SQL, "bench/insights.py's SQL changed"
        spread = hourly.replace(":offset", "(substr(r.id, 5)::int % 70)")
        run(
            text(spread.replace(":where", "r.id >= 'rest00010'")),
            {"messages": 2, "opens": 1, "branches": 0, "step": 70, "hours": 100},
        )  # fmt: skip
        run(
            text(hourly.replace(":offset", "0").replace(":where", "r.id < 'rest00010'")),
            {"messages": 1, "opens": 2, "branches": 1, "step": 1, "hours": 8_784},
        )  # fmt: skip
        for prefix in ("rest%",):
            run(text(insight_bench.KEYS_SQL), {"prefix": prefix})
            run(text(insight_bench.TEXTS_SQL), {"prefix": prefix})
        _daily_insights(connection)
        # Orders (bench/order_insights.py's SQL) for the same restaurants.
        values = {
            "restaurants": 0,
            "busy": 0,
            "start": "date_trunc('hour', now()) - interval '365 days'",
            "now": "date_trunc('hour', now())",
        }
        small = "WHERE r.id > 'r' || lpad('{busy}', 5, '0')"
        busy = "WHERE r.id <= 'r' || lpad('{busy}', 5, '0')"
        assert any(small in sql for sql in order_bench.FILL), "bench/order_insights.py changed"
        for sql in order_bench.FILL[1:]:  # its restaurants are ours
            if small in sql:
                # One trading hour a week at the ordinary restaurants (a day's took 12 min
                # to load): a year of orders still, the busy ones' as dense as there.
                sql = sql.replace("interval '1 day') AS d", "interval '7 days') AS d")
            sql = sql.replace(small, "WHERE r.id >= 'rest00010'")
            sql = sql.replace(busy, "WHERE r.id < 'rest00010'")
            run(text(sql.format(**values)))
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        sizes = {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in ("daily_usage", "monthly_usage", "insight_hourly", "order_item_hours")
        }
    engine.dispose()
    print(
        f"loaded a year in {time.perf_counter() - started:.0f} s: "
        + ", ".join(f"{n:,} {table} rows" for table, n in sizes.items())
    )


def _daily_insights(connection: Any) -> None:
    """The daily rows a fold keeps beside the hourly ones (as bench/insights.py writes them)."""
    measures = ", ".join(MEASURES)
    sums = ", ".join(f"sum({m})" for m in MEASURES)
    connection.execute(
        text(
            f"INSERT INTO insight_daily (restaurant_id, day, {measures}) "  # noqa: S608
            f"SELECT restaurant_id, (hour AT TIME ZONE 'UTC')::date, {sums} "
            "FROM insight_hourly GROUP BY 1, 2"
        )
    )
    by_hour = ", ".join(
        f"coalesce(sum(conversations) FILTER (WHERE extract(hour FROM hour AT TIME ZONE "
        f"'UTC') = {n}), 0)"
        for n in range(24)
    )
    connection.execute(
        text(
            f"INSERT INTO insight_daily_starts (restaurant_id, day, {', '.join(HOURS_OF_DAY)}) "  # noqa: S608
            f"SELECT restaurant_id, (hour AT TIME ZONE 'UTC')::date, {by_hour} "
            "FROM insight_hourly GROUP BY 1, 2"
        )
    )
    connection.execute(
        text(
            "INSERT INTO insight_daily_keys (restaurant_id, day, dimension, key, count) "
            "SELECT restaurant_id, (hour AT TIME ZONE 'UTC')::date, dimension, key, "
            "sum(count) FROM insight_hourly_keys GROUP BY 1, 2, 3, 4"
        )
    )
    connection.execute(
        text(
            "INSERT INTO insight_restaurants (restaurant_id, fresh_as_of)"
            " SELECT id, now() FROM restaurants"
        )
    )


def owner_pages(app: Flask) -> list[tuple[str, str]]:
    """Return (title, URL rule) of every owner page the app serves."""
    rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    return [(title, rules[endpoint]) for endpoint, title in OWNER_PAGES if endpoint in rules]


def signed_in_owner(app: Flask, restaurant_id: str, token: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/dashboard/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    answer = client.post(
        "/dashboard/login",
        data={"csrf_token": csrf.group(1), "restaurant_id": restaurant_id, "token": token},
    )
    assert answer.status_code == 302, answer.status_code
    return client


def run(database_url: str, redis: str, requests: int) -> list[dict[str, Any]]:
    namespace = f"bench-owner-{uuid.uuid4().hex[:8]}"
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
        app = create_app(runtime=runtime)
        with runtime.transaction() as session:
            tokens = {
                rid: credentials.create_pat(session, restaurant_id=rid, expires_in_days=None).secret
                for rid in OWNERS
            }
        owners = [(rid, signed_in_owner(app, rid, tokens[rid])) for rid in OWNERS]
        api = app.test_client()
        statements: list[str] = []
        event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        turn = itertools.cycle(OWNERS)

        def usage_api() -> Any:
            rid = next(turn)
            headers = {"Authorization": f"Bearer {tokens[rid]}", "X-Restaurant-Id": rid}
            return api.get("/api/usage?include=forecast", headers=headers)

        baseline = "baseline: GET /api/usage?include=forecast"
        results = [measure(baseline, requests, usage_api, statements)]
        pages = owner_pages(app)
        for title, rule in pages:
            cycle = itertools.cycle(owners)

            def page(rule: str = rule, cycle: Any = cycle) -> Any:
                rid, client = next(cycle)
                return client.get(rule.replace("<restaurant_id>", rid))

            results.append(measure(f"{title} {rule}", requests, page, statements))
        missing = [title for endpoint, title in OWNER_PAGES if title not in {t for t, _ in pages}]
        if missing:
            print(f"not in this app yet: {', '.join(missing)}")
        return results
    finally:
        for key in runtime.redis.scan_iter(match=f"{namespace}:*", count=1000):
            runtime.redis.delete(key)
        runtime.close()


def create_database(server: str) -> str:
    """Create a database of the benchmark's own and return its URL (for --keep)."""
    name = f"bench_owner_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def load_and_run(database_url: str, redis: str, requests: int) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    load_sql(database_url)
    load_year(database_url)
    return run(database_url, redis, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=300, help="per page")
    parser.add_argument(
        "--jobs", type=int, default=300_000, help="jobs over 30 days (bench/dashboard: 1,000,000)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    parser.add_argument("--reuse", metavar="URL", help="measure a database kept by --keep")
    args = parser.parse_args()
    dashboard_bench.JOBS = args.jobs  # read by load_sql
    with psycopg.connect(args.server) as connection:
        version = connection.execute("SHOW server_version").fetchone()
    server_version = f"PostgreSQL {version[0] if version else '?'}"
    if args.reuse:  # data a --keep run left: measure again without loading it again
        with redis_url() as redis:
            results = run(args.reuse, redis, args.requests)
        report(results, server_version)
        return
    with tempfile.TemporaryDirectory() as tmp, redis_url() as redis:
        if args.keep:
            database_url = create_database(args.server)
            print(f"kept database: --reuse {database_url}", flush=True)
            results = load_and_run(database_url, redis, args.requests)
        else:
            with database("postgresql", Path(tmp)) as database_url:
                name = make_url(database_url).database
                print(f"database: {name} (dropped at the end)", flush=True)
                results = load_and_run(database_url, redis, args.requests)
    report(results, server_version)


if __name__ == "__main__":
    main()
