"""Benchmark of the owner's Alerts page (issue 16) on PostgreSQL: run by hand.

    .venv/bin/python -m bench.owner_alerts [--requests 300]

Creates a database of its own, loads 10,000 restaurants with usage counters, three
channels each, a year of alert events (1,000,000) with a delivery to the webhook and the
e-mail each (2,000,000; ten events a day and three deliveries each for the measured
restaurant), and a month of firings, set-based; signs in
as one restaurant's owner and measures its Alerts page (first page and page 100 of the
delivery log) through the real Flask app — p50/p99 and SQL statements per request.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import uuid
from typing import Any

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from bench.dashboard import GOAL_MS, ZONES, bench_database, measure
from bench.support import redis_url
from bot import create_app
from bot.runtime import Runtime
from store import credentials
from store.db import make_engine
from store.migrations import upgrade
from store.settings import Settings

RESTAURANTS = 10_000
EVENTS = 1_000_000
OWNER = "rest00042"


def load_sql(database_url: str) -> None:
    """Restaurants, counters, channels, a year of events, deliveries and firings."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    zones = "ARRAY[" + ",".join(f"'{z}'" for z in ZONES) + "]"
    started = time.perf_counter()
    with psycopg.connect(dsn) as connection:
        run = connection.execute
        run(
            f"""INSERT INTO restaurants (id, name, whatsapp_number, merchant_id, timezone,
                   is_active, created_at)
            SELECT 'rest' || lpad(n::text, 5, '0'), 'Restaurant ' || n,
                   '+9665' || lpad(n::text, 8, '0'), 'm' || n, ({zones})[1 + n % 5], true,
                   now() - interval '400 days'
            FROM generate_series(0, {RESTAURANTS - 1}) n"""  # noqa: S608 (our constants)
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
                   hashtext(r.id || m::text) & 1023, hashtext(r.id || m::text) & 8191,
                   m + interval '20 days', m + interval '1 hour', m + interval '25 days'
            FROM restaurants r,
                 generate_series(date_trunc('month', now()) - interval '11 months',
                                 date_trunc('month', now()), interval '1 month') m"""
        )
        run(
            """INSERT INTO daily_usage (restaurant_id, date, message_count)
            SELECT id, d::date, hashtext(id) & 511 FROM restaurants,
                   generate_series(current_date - 1, current_date + 1, interval '1 day') d"""
        )
        run(
            """INSERT INTO alert_channels (id, restaurant_id, type, target, created_at)
            SELECT 'ch_' || md5(r.id || k), r.id, k,
                   CASE k WHEN 'webhook' THEN 'https://hooks.example.com/' || r.id
                          WHEN 'email' THEN 'owner@' || r.id || '.example'
                          ELSE r.whatsapp_number END,
                   now() - interval '400 days'
            FROM restaurants r, unnest(ARRAY['webhook', 'email', 'whatsapp']) k"""
        )
        # A year of events: the measured restaurant gets ten a day, the others share the rest.
        run(
            f"""INSERT INTO alert_events (id, restaurant_id, type, occurred_at, data)
            SELECT 'evt_' || md5(n::text),
                   CASE WHEN n % 274 = 0 THEN '{OWNER}'
                        ELSE 'rest' || lpad((n % {RESTAURANTS})::text, 5, '0') END,
                   (ARRAY['usage.threshold_reached', 'usage.pace_exceeds', 'test'])[1 + n % 3],
                   now() - (n * interval '31.5 seconds'), '{{}}'
            FROM generate_series(1, {EVENTS}) n"""  # noqa: S608 (our constants)
        )
        run(
            """INSERT INTO notification_deliveries (id, event_id, restaurant_id, channel_id,
                   channel_type, status, attempts, created_at, updated_at, delivered_at)
            SELECT md5(e.id || c.id), e.id, e.restaurant_id, c.id, c.type,
                   CASE WHEN hashtext(e.id) %% 50 = 0 THEN 'dead' ELSE 'delivered' END, 1,
                   e.occurred_at, e.occurred_at, e.occurred_at + interval '2 seconds'
            FROM alert_events e
            JOIN alert_channels c ON c.restaurant_id = e.restaurant_id
                 AND (c.type <> 'whatsapp' OR e.restaurant_id = %s)""",
            (OWNER,),
        )
        run(
            """INSERT INTO alert_firings (restaurant_id, metric, threshold, period, event_id,
                   fired_at)
            SELECT r.id, 'daily_messages', 80, to_char(d, 'YYYY-MM-DD'), 'evt_x', d
            FROM restaurants r, generate_series(now() - interval '30 days', now(),
                                                interval '1 day') d"""
        )
        connection.commit()
    # A year-old table has been vacuumed (its visibility map set) by autovacuum long ago.
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    print(f"loaded in {time.perf_counter() - started:.1f} s")


def run(database_url: str, redis: str, requests: int) -> None:
    namespace = f"bench-alerts-{uuid.uuid4().hex[:8]}"
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
        client = create_app(runtime=runtime).test_client()
        with runtime.transaction() as session:
            pat = credentials.create_pat(session, restaurant_id=OWNER, expires_in_days=None)
        page = client.get("/dashboard/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        answer = client.post(
            "/dashboard/login",
            data={"csrf_token": token.group(1), "restaurant_id": OWNER, "token": pat.secret},
        )
        assert answer.status_code == 302, answer.status_code
        statements: list[str] = []
        event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        with runtime.read_transaction() as session:
            total = session.execute(
                text("SELECT count(*) FROM notification_deliveries WHERE restaurant_id = :r"),
                {"r": OWNER},
            ).scalar()
        print(f"{OWNER}: {total:,} deliveries in its log")
        print("| page | requests | p50 ms | p99 ms | max ms | CPU ms p50 | statements |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, path in [
            ("baseline: /healthz", "/healthz"),
            ("owner alerts", f"/dashboard/r/{OWNER}/alerts"),
            ("owner alerts, log page 100", f"/dashboard/r/{OWNER}/alerts?page=100"),
        ]:
            found = measure(name, requests, lambda path=path: client.get(path), statements)
            print(
                f"| {name} | {found['count']} | {found['p50']:.2f} | {found['p99']:.2f} |"
                f" {found['max']:.2f} | {found['cpu']:.2f} |"
                f" {','.join(map(str, found['statements']))} |"
            )
        print(f"goal: p99 ≤ {GOAL_MS:.0f} ms")
        slowest(client, runtime, f"/dashboard/r/{OWNER}/alerts")
    finally:
        for key in runtime.redis.scan_iter(match=f"{namespace}:*", count=1000):
            runtime.redis.delete(key)
        runtime.close()


def slowest(client: Any, runtime: Runtime, path: str, rounds: int = 100) -> None:
    """Print the median time of each of the page's statements (where its time goes)."""
    times: dict[int, list[float]] = {}
    texts: dict[int, str] = {}
    state: dict[str, Any] = {"n": 0, "at": 0.0}

    def before(*_: Any) -> None:
        state["at"] = time.perf_counter()

    def after(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        times.setdefault(state["n"], []).append((time.perf_counter() - state["at"]) * 1000)
        texts[state["n"]] = " ".join(statement.split())[:90]
        state["n"] += 1

    event.listen(runtime.engine, "before_cursor_execute", before)
    event.listen(runtime.engine, "after_cursor_execute", after)
    for _ in range(rounds):
        state["n"] = 0
        client.get(path)
    for n, spent in sorted(times.items(), key=lambda item: -statistics.median(item[1]))[:5]:
        print(f"{statistics.median(spent):7.2f} ms  {texts[n]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with redis_url() as redis, bench_database(args.server) as database_url:
        engine = make_engine(database_url)
        upgrade(engine)
        engine.dispose()
        load_sql(database_url)
        run(database_url, redis, args.requests)


if __name__ == "__main__":
    main()
