"""Benchmark of the usage API (issue 5) on PostgreSQL: run by hand, prints figures.

    .venv/bin/python bench/usage_api.py [--server postgresql://postgres@127.0.0.1:5432]

Creates a database of its own (`bench_usage_<random>`), loads 10,000 restaurants,
200,000 conversations and 1,000,000 messages with COPY (plus their customers and the
matching usage counters), then measures p50/p99 of requests through the real Flask app
(its test client: the WSGI app, no network) and counts SQL statements per request. The
database is dropped at the end, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

# Run as a script, this file's directory comes first on sys.path and this file's name
# would shadow the `usage_api` package the app imports.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]

from bot import create_app  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from store import credentials  # noqa: E402
from store.db import make_engine  # noqa: E402
from store.migrations import upgrade  # noqa: E402
from store.settings import Settings  # noqa: E402
from store.timeutil import local_date, utcnow  # noqa: E402
from usage_api.clock import CLOCK  # noqa: E402

RESTAURANTS = 10_000
CONVERSATIONS = 200_000
MESSAGES = 1_000_000
HISTORY_DAYS = 240  # conversations spread over the last ~8 months
ZONES = ["UTC", "Asia/Riyadh", "Asia/Dubai", "Europe/London", "America/New_York"]
# The goals; the last scenario (the once-a-minute last_used_at write) has none.
GOALS_MS = {"single (PAT)": 10.0, "admin page of 100": 50.0, "detail with history": 15.0}


@contextmanager
def bench_database(server: str, *, keep: bool = False) -> Iterator[str]:
    """Create a database of the benchmark's own; drop it afterwards unless `keep`."""
    name = f"bench_usage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"kept database {name}: reuse with --reuse {url.render_as_string(False)}")
        else:
            with psycopg.connect(server, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"dropped database {name}")


def load(database_url: str, now: dt.datetime, seed: int = 5) -> None:
    """Bulk-load restaurants, customers, conversations, messages and their counters."""
    rng = random.Random(seed)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    restaurants = [f"rest{n:05d}" for n in range(RESTAURANTS)]
    zone = {rid: ZONES[n % len(ZONES)] for n, rid in enumerate(restaurants)}
    monthly: dict[tuple[str, int, int], list[Any]] = {}
    daily: dict[tuple[str, dt.date], int] = defaultdict(int)

    def month_row(rid: str, at: dt.datetime) -> list[Any]:
        day = local_date(at, zone[rid])
        # conversations, messages, last conversation, first and last message
        return monthly.setdefault((rid, day.year, day.month), [0, 0, None, at, at])

    started = time.perf_counter()
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY restaurants (id, name, whatsapp_number, merchant_id, timezone, is_active,"
            " created_at) FROM STDIN"
        ) as copy:
            for n, rid in enumerate(restaurants):
                active = n % 50 != 0
                copy.write_row((rid, f"Restaurant {n}", f"+9665{n:08d}", f"m{n}", zone[rid],
                                active, now))  # fmt: skip
        with cursor.copy(
            "COPY restaurant_bots (restaurant_id, max_messages_per_day, max_messages_per_min,"
            " max_conversations_per_month, template_sids, enabled, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for n, rid in enumerate(restaurants):
                if n % 20 == 0:
                    continue  # 5 % without bot config: the defaults apply
                copy.write_row((rid, 1000, 60, 30000, "{}", n % 33 != 0, now, now))
        # One customer per conversation; 5 messages per conversation on average.
        conversations = []
        for conversation_id in range(1, CONVERSATIONS + 1):
            rid = restaurants[rng.randrange(RESTAURANTS)]
            start = now - dt.timedelta(seconds=rng.randrange(HISTORY_DAYS * 86400))
            conversations.append((conversation_id, rid, start))
        with cursor.copy(
            "COPY customers (id, restaurant_id, address, created_at) FROM STDIN"
        ) as copy:
            for conversation_id, rid, start in conversations:
                copy.write_row((conversation_id, rid, f"+9665{conversation_id:09d}", start))
        with cursor.copy(
            "COPY conversations (id, restaurant_id, customer_id, started_at, last_message_at)"
            " FROM STDIN"
        ) as copy:
            for conversation_id, rid, start in conversations:
                copy.write_row((conversation_id, rid, conversation_id, start, start))
                row = month_row(rid, start)
                row[0] += 1
                row[2] = start if row[2] is None or start > row[2] else row[2]
        with cursor.copy(
            "COPY messages (id, sid, restaurant_id, conversation_id, customer_id, direction,"
            " body, status, send_attempts, send_timeouts, created_at, updated_at) FROM STDIN"
        ) as copy:
            for message_id in range(1, MESSAGES + 1):
                conversation_id, rid, start = conversations[(message_id - 1) % CONVERSATIONS]
                at = start + dt.timedelta(seconds=rng.randrange(3600))
                inbound = message_id % 2 == 1
                copy.write_row((
                    message_id, f"SM{message_id:032x}", rid, conversation_id, conversation_id,
                    "inbound" if inbound else "outbound", "menu" if inbound else "…",
                    "received" if inbound else "delivered", 0, 0, at, at,
                ))  # fmt: skip
                row = month_row(rid, at)
                row[3], row[4] = min(row[3], at), max(row[4], at)
                if inbound:
                    row[1] += 1
                    daily[(rid, local_date(at, zone[rid]))] += 1
        with cursor.copy(
            "COPY monthly_usage (restaurant_id, year, month, conversation_count, message_count,"
            " last_conversation_at, first_message_at, last_message_at) FROM STDIN"
        ) as copy:
            for (rid, year, month), values in monthly.items():
                copy.write_row((rid, year, month, *values))
        with cursor.copy(
            "COPY daily_usage (restaurant_id, date, message_count) FROM STDIN"
        ) as copy:
            for (rid, day), count in daily.items():
                copy.write_row((rid, day, count))
        for table in ("customers", "conversations", "messages"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                f" (SELECT max(id) FROM {table}))"
            )
        connection.commit()
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
        # Write the load out now, so the measurements do not share the disk with it.
        connection.execute("CHECKPOINT")
    print(
        f"loaded {RESTAURANTS:,} restaurants, {CONVERSATIONS:,} conversations, {MESSAGES:,}"
        f" messages, {len(monthly):,} month rows, {len(daily):,} day rows"
        f" in {time.perf_counter() - started:.1f} s"
    )


def measure(
    name: str, count: int, request: Callable[[], Any], statements: list[str]
) -> dict[str, Any]:
    """Time `count` requests after a warm-up; count the statements of each."""
    for _ in range(200):
        request()
    timings, per_request = [], set()
    for _ in range(count):
        statements.clear()
        started = time.perf_counter()
        response = request()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
        per_request.add(len(statements))
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "name": name,
        "count": count,
        "p50": statistics.median(timings),
        "p99": cuts[98],
        "max": max(timings),
        "statements": sorted(per_request),
    }


def run(database_url: str, requests: int) -> list[dict[str, Any]]:
    """Measure the three scenarios through the real app on the loaded database."""
    settings = Settings(database_url=database_url, host="127.0.0.1", log_level="WARNING")
    runtime = Runtime(settings, engine=make_engine(database_url))
    app = create_app(runtime=runtime)
    client = app.test_client()
    rng = random.Random(7)
    restaurant_ids = [f"rest{n:05d}" for n in range(RESTAURANTS)]
    with runtime.transaction() as session:
        admin = {"X-API-Key": credentials.create_api_key(session, name="bench").secret}
        owners = []
        for rid in rng.sample(restaurant_ids, 200):
            pat = credentials.create_pat(session, restaurant_id=rid, expires_in_days=None)
            owners.append({"Authorization": f"Bearer {pat.secret}", "X-Restaurant-Id": rid})
    # Steady state: every credential has been used within the minute, so the measured
    # requests only read. The last scenario measures the once-a-minute write on its own.
    for headers in owners:
        client.get("/api/usage", headers=headers)

    statements: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    pages = range(0, RESTAURANTS, 100)
    results = [
        measure(
            "single (PAT)",
            requests,
            lambda: client.get("/api/usage", headers=rng.choice(owners)),
            statements,
        ),
        measure(
            "admin page of 100",
            requests // 2,
            lambda: client.get(f"/api/usage?limit=100&offset={rng.choice(pages)}", headers=admin),
            statements,
        ),
        measure(
            "detail with history",
            requests,
            lambda: client.get(f"/api/usage/{rng.choice(restaurant_ids)}", headers=admin),
            statements,
        ),
    ]
    # Move the app's clock a minute on before each request: every one writes last_used_at.
    clock = {"now": utcnow()}

    def a_minute_later() -> dt.datetime:
        clock["now"] += dt.timedelta(minutes=1)
        return clock["now"]

    app.config[CLOCK] = a_minute_later
    results.append(
        measure(
            "single (PAT), last_used_at due",
            requests // 4,
            lambda: client.get("/api/usage", headers=rng.choice(owners)),
            statements,
        )
    )
    runtime.close()
    return results


def report(results: list[dict[str, Any]], server_version: str) -> None:
    print()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, {_cpu_model()}")
    print(f"python {platform.python_version()}, {server_version}, date {utcnow():%Y-%m-%d}")
    print()
    print("| scenario | requests | p50 ms | p99 ms | max ms | goal p99 ms | statements/request |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        goal = GOALS_MS.get(r["name"])
        verdict = "" if goal is None else ("ok" if r["p99"] <= goal else "MISSED")
        target = "—" if goal is None else f"≤ {goal:g} ({verdict})"
        print(
            f"| {r['name']} | {r['count']:,} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.2f}"
            f" | {target} | {', '.join(map(str, r['statements']))} |"
        )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=2000, help="per scenario")
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    parser.add_argument("--reuse", metavar="URL", help="measure a database kept by --keep")
    args = parser.parse_args()
    with psycopg.connect(args.server) as connection:
        version = connection.execute("SHOW server_version").fetchone()
    server_version = f"PostgreSQL {version[0] if version else '?'}"
    if args.reuse:
        results = run(args.reuse, args.requests)
    else:
        with bench_database(args.server, keep=args.keep) as database_url:
            engine = make_engine(database_url)
            upgrade(engine)
            engine.dispose()
            load(database_url, utcnow())
            results = run(database_url, args.requests)
    report(results, server_version)


if __name__ == "__main__":
    main()
