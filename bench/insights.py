"""Benchmark of conversation insights (issue 12) on PostgreSQL: folding, and the API at scale.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.insights
        [--server postgresql://postgres@127.0.0.1:5432/postgres] [--skip-fold] [--skip-api]

1. Folding. Events for 100 restaurants are written in bulk with SQL (conversations of
   five events: opened, welcome, menu, a category, a branch or an unrecognised text), in
   rounds of 100 per restaurant, each round sealed with the real `seal_now`, so every
   batch holds 100 events. Baseline, same run: the same kind of batches folded in this
   process, one after the other (`fold_batch` alone). Then one real worker process
   (`python -m actors.run_worker actors.broker:setup actors.worker --processes 1
   --threads 8`, the Procfile's line with one process): the clock runs from the moment
   the analysis jobs are handed to the broker until the last batch says `analyzed`.
2. `GET /api/insights` at 10,000 restaurants and 10,000,000 events: the aggregates those
   events fold into, generated with SQL — 9,900 restaurants with 500 events each over the
   last year (100 active hours), 100 busy ones with 50,000 each (every hour of the year)
   — plus keyed counts and texts. p50/p99 through the real Flask app (its test client)
   for 30 and 366 days, random restaurants and busy ones, statements per request.
   Baseline, same run: `GET /api/usage/<id>` (an admin's read of one restaurant).

`--receive sqlite|postgresql` measures instead what events cost the webhook's own work:
`Reception.handle` of `help` messages in this process (console mode), 40 blocks of 200
with `INSIGHT_EVENTS` on and off alternating; the HTTP A/B/A/B is `bench/webhook.py
--compare-events`.

The database (`bench_insights_<random>`) and the Redis namespace are dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url

from bot import create_app
from bot.jobs import enqueue
from bot.runtime import Runtime
from insights import batches
from insights.folding import fold_batch
from insights.models import HOURS_OF_DAY, MEASURES, InsightBatch
from store import credentials
from store.db import make_engine, make_session_factory
from store.migrations import upgrade
from store.models import Job
from store.settings import Settings
from store.timeutil import utcnow
from usage_api.clock import CLOCK

ROOT = Path(__file__).resolve().parent.parent
GOALS_MS = {30: 25.0, 366: 100.0}
FOLD_GOAL = 2000.0  # events/s per worker process


@contextmanager
def bench_database(server: str, *, keep: bool = False) -> Iterator[str]:
    name = f"bench_insights_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"kept database {name}: --reuse {url.render_as_string(hide_password=False)}")
        else:
            with psycopg.connect(server, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"dropped database {name}")


def restaurants_sql(count: int, prefix: str, zones: tuple[str, ...]) -> str:
    """Return the INSERT of `count` restaurants `<prefix>00000…` (our own constants only)."""
    zone_list = ", ".join(f"'{z}'" for z in zones)
    digit = 1 if prefix == "b" else 2
    return f"""
        INSERT INTO restaurants (id, name, whatsapp_number, merchant_id, timezone, is_active,
                                 created_at)
        SELECT '{prefix}' || lpad(n::text, 5, '0'), 'Bench ' || n,
               '+9665{digit}' || lpad(n::text, 7, '0'), 'bench-merchant',
               (ARRAY[{zone_list}])[1 + n % {len(zones)}], true, now()
        FROM generate_series(0, {count - 1}) AS n
    """  # noqa: S608


# -- 0. the webhook's transaction, events on and off ---------------------------------------


def receive_benchmark(database_url: str, redis_url: str, blocks: int, per_block: int) -> None:
    """`Reception.handle` of `help` messages in this process (console mode: no HTTP, no
    send), blocks with events on and off interleaved A/B/A/B; median time per message."""
    import logging

    from bot.inbound import InboundMessage
    from store.restaurants import BotLimits, create_restaurant

    logging.disable(logging.INFO)  # console mode logs every reply
    namespace = f"rbbench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url, redis_url=redis_url, redis_namespace=namespace,
        log_level="WARNING", twilio_auth_token="bench",
    )  # fmt: skip
    runtime = Runtime(settings)
    with runtime.transaction() as session:
        create_restaurant(
            session, settings, restaurant_id="ab", name="A/B", whatsapp_number="+966500000999",
            merchant_id="m", timezone="UTC", limits=BotLimits(10**8, 10**8, 10**8),
        )  # fmt: skip
    tenant = runtime.tenants.by_id("ab")
    assert tenant is not None
    reception = runtime.reception
    customers = [f"+9665{n:08d}" for n in range(200)]
    rng = random.Random(3)

    def message(text_: str, sender: str) -> InboundMessage:
        return InboundMessage("SM" + uuid.uuid4().hex, sender, tenant.whatsapp_number, text_)

    for customer in customers:  # their conversations are open
        reception.handle(tenant, message("hi", customer))
    timings: dict[bool, list[float]] = {True: [], False: []}
    for block in range(blocks):
        events = block % 2 == 0
        reception.inbox.record_events = events
        started = time.perf_counter()
        for _ in range(per_block):
            reception.handle(tenant, message("help", rng.choice(customers)))
        timings[events].append((time.perf_counter() - started) * 1000 / per_block)
    on, off = statistics.median(timings[True]), statistics.median(timings[False])
    print(
        f"the webhook's transaction in process ({blocks} blocks of {per_block} `help` "
        f"messages, A/B/A/B): events on {on:.3f} ms, off {off:.3f} ms per message; "
        f"on/off {on / off:.3f} ({on - off:+.3f} ms)"
    )
    keys = list(runtime.redis.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        runtime.redis.delete(*keys)
    runtime.close()
    logging.disable(logging.NOTSET)


# -- 1. folding ---------------------------------------------------------------------------

EVENTS_SQL = """
    INSERT INTO conversation_events (restaurant_id, customer_id, conversation_id, kind, detail,
                                     occurred_at)
    SELECT r.id, c.n, :round * 100000 + c.n,
           (ARRAY['message_in', 'welcome_sent', 'menu_shown', 'category_opened',
                  CASE WHEN c.n % 3 = 0 THEN 'unrecognised_text' ELSE 'branch_chosen' END])
               [1 + e.n],
           CASE e.n
               WHEN 0 THEN '{"opened": true, "returning": false}'::json
               WHEN 3 THEN json_build_object('categoryId', 'c' || (c.n % 12))
               WHEN 4 THEN CASE WHEN c.n % 3 = 0
                   THEN json_build_object('text', 'question ' || (c.n % 40))
                   ELSE json_build_object('branchId', 'b' || (c.n % 5)) END
           END,
           :start + make_interval(mins => c.n * 3 + e.n)
    FROM restaurants r, generate_series(0, 19) AS c(n), generate_series(0, 4) AS e(n)
    WHERE r.id LIKE 'f%'
"""


class _NoBroker:
    """Sealing without enqueuing: the jobs are handed to the real broker when the timer
    starts."""

    def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
        return message


def seal_rounds(runtime: Runtime, rounds: int, first_round: int) -> list[Job]:
    """Write `rounds` rounds of 100 events per restaurant, sealing after each; return the
    analysis jobs (not enqueued)."""
    sealed: list[int] = []
    start = utcnow() - dt.timedelta(days=2)
    for n in range(first_round, first_round + rounds):
        with runtime.transaction() as session:
            session.execute(text(EVENTS_SQL), {"round": n, "start": start + dt.timedelta(hours=n)})
        sealed += batches.seal_now(runtime.sessions, _NoBroker(), utcnow())  # type: ignore[arg-type]
    with runtime.read_transaction() as session:
        ids = session.scalars(select(InsightBatch.job_id).where(InsightBatch.id.in_(sealed))).all()
        jobs = list(session.scalars(select(Job).where(Job.id.in_(ids))).all())
        session.expunge_all()
    return jobs


def fold_in_process(runtime: Runtime, jobs: list[Job]) -> float:
    started = time.perf_counter()
    for job in jobs:
        with runtime.transaction() as session:
            fold_batch(session, job.payload["kwargs"]["batch_id"], now=utcnow())  # type: ignore[index]
    return time.perf_counter() - started


def analyzed(runtime: Runtime, ids: list[int]) -> int:
    with runtime.read_transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(InsightBatch)
                .where(InsightBatch.id.in_(ids), InsightBatch.status == "analyzed")
            )
            or 0
        )


def fold_benchmark(database_url: str, redis_url: str, rounds: int, runs: int) -> None:
    namespace = f"rbbench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_namespace=namespace,
        log_level="WARNING",
    )
    runtime = Runtime(settings)
    with runtime.transaction() as session:
        session.execute(text(restaurants_sql(100, "f", ("UTC", "Asia/Riyadh"))))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": namespace,
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "actors.run_worker", "actors.broker:setup", "actors.worker",
        "--processes", "1", "--threads", "8", "--worker-shutdown-timeout", "4000",
    ]  # fmt: skip
    worker = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 60
        while not client.zcard(f"{namespace}:__heartbeats__"):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("the worker did not start")
            time.sleep(0.1)
        warm = seal_rounds(runtime, 1, 0)
        enqueue(runtime.broker, warm)
        warm_ids = [j.payload["kwargs"]["batch_id"] for j in warm]  # type: ignore[index]
        while analyzed(runtime, warm_ids) < len(warm_ids):
            time.sleep(0.05)
        alone, worker_rates = [], []
        for run in range(runs):
            # Alternating: the baseline in this process, then the worker, on fresh batches.
            baseline = seal_rounds(runtime, max(1, rounds // 4), 1 + run * 2 * rounds)
            elapsed = fold_in_process(runtime, baseline)
            alone.append(100 * len(baseline) / elapsed)
            jobs = seal_rounds(runtime, rounds, 1 + run * 2 * rounds + rounds)
            ids = [j.payload["kwargs"]["batch_id"] for j in jobs]  # type: ignore[index]
            started = time.perf_counter()
            enqueue(runtime.broker, jobs)
            while analyzed(runtime, ids) < len(ids):
                time.sleep(0.02)
            worker_rates.append(100 * len(ids) / (time.perf_counter() - started))
        print(
            f"folding, 100-event batches of 100 restaurants; {runs} runs of {rounds * 100} "
            "batches on the worker:"
        )
        print(
            f"  fold_batch alone, this process, one at a time: "
            f"{statistics.median(alone):8.0f} events/s  (runs: "
            + ", ".join(f"{r:.0f}" for r in alone)
            + ")"
        )
        verdict = "ok" if statistics.median(worker_rates) >= FOLD_GOAL else "MISSED"
        print(
            f"  one worker process (8 threads), through the broker: "
            f"{statistics.median(worker_rates):8.0f} events/s  (runs: "
            + ", ".join(f"{r:.0f}" for r in worker_rates)
            + f"; goal ≥ {FOLD_GOAL:.0f}: {verdict})"
        )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
        runtime.close()


# -- 2. the API at scale ------------------------------------------------------------------

SMALL, BUSY = 9_900, 100
SMALL_HOURS = 100  # active hours a year, ~5 events each: ~500 events
BUSY_HOURS = 8_784  # every hour of 366 days, ~6 events each: ~54,000 events

HOURLY_SQL = """
    INSERT INTO insight_hourly (restaurant_id, hour, conversations, new_customers,
        returning_customers, messages_in, welcomes, menu_shown, category_opens,
        branches_shown, branch_choices, help_shown, unknown_options, unrecognised_texts,
        opt_outs, opt_ins, throttled, delivery_failures, replies_deferred, reached_welcome,
        reached_menu, reached_category, reached_branch)
    SELECT r.id, h.hour, 1, (h.k % 3 <> 0)::int, (h.k % 3 = 0)::int, :messages, 1, 1,
        :opens, 0, :branches, 0, 0, (h.k % 5 = 0)::int, 0, 0, 0, 0, 0, 1, 1, 1, :branches
    FROM restaurants r
    CROSS JOIN LATERAL (
        SELECT k, date_trunc('hour', now()) - make_interval(hours => :step * k + :offset) AS hour
        FROM generate_series(0, :hours - 1) AS k
    ) h
    WHERE r.id LIKE :prefix
"""
KEYS_SQL = """
    INSERT INTO insight_hourly_keys (restaurant_id, hour, dimension, key, count)
    SELECT restaurant_id, hour, 'category', 'c' || (extract(epoch from hour)::bigint / 3600 % 12),
           category_opens
    FROM insight_hourly WHERE restaurant_id LIKE :prefix
    UNION ALL
    SELECT restaurant_id, hour, 'branch', 'b' || (extract(epoch from hour)::bigint / 3600 % 5),
           branch_choices
    FROM insight_hourly WHERE restaurant_id LIKE :prefix AND branch_choices > 0
"""
TEXTS_SQL = """
    INSERT INTO insight_hourly_texts (restaurant_id, hour, text, count)
    SELECT restaurant_id, hour, 'question ' || (extract(epoch from hour)::bigint / 3600 % 30), 1
    FROM insight_hourly WHERE restaurant_id LIKE :prefix AND unrecognised_texts > 0
"""


def load_aggregates(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    started = time.perf_counter()
    zones = ("UTC", "Asia/Riyadh", "Asia/Kolkata", "Europe/London", "America/New_York")
    with engine.begin() as connection:
        connection.execute(text(restaurants_sql(SMALL, "s", zones)))
        connection.execute(text(restaurants_sql(BUSY, "b", zones)))
        # Small: 125 active hours spread over the year (every 70 hours, shifted per id).
        connection.execute(
            text(HOURLY_SQL.replace(":offset", "(substr(r.id, 2)::int % 70)")),
            {"messages": 2, "opens": 1, "branches": 0, "step": 70, "hours": SMALL_HOURS,
             "prefix": "s%"},
        )  # fmt: skip
        connection.execute(
            text(HOURLY_SQL.replace(":offset", "0")),
            {"messages": 1, "opens": 2, "branches": 1, "step": 1, "hours": BUSY_HOURS,
             "prefix": "b%"},
        )  # fmt: skip
        for prefix in ("s%", "b%"):
            connection.execute(text(KEYS_SQL), {"prefix": prefix})
            connection.execute(text(TEXTS_SQL), {"prefix": prefix})
        # The daily rows a fold keeps beside the hourly ones: the sums of their UTC days.
        measures = ", ".join(MEASURES)
        sums = ", ".join(f"sum({m})" for m in MEASURES)
        connection.execute(
            text(
                f"INSERT INTO insight_daily (restaurant_id, day, {measures}) "  # noqa: S608
                f"SELECT restaurant_id, (hour AT TIME ZONE 'UTC')::date, {sums} "
                "FROM insight_hourly GROUP BY 1, 2"
            )
        )
        hours = ", ".join(HOURS_OF_DAY)
        by_hour = ", ".join(
            f"coalesce(sum(conversations) FILTER (WHERE extract(hour FROM hour AT TIME ZONE "
            f"'UTC') = {n}), 0)"
            for n in range(24)
        )
        connection.execute(
            text(
                f"INSERT INTO insight_daily_starts (restaurant_id, day, {hours}) "  # noqa: S608
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
        counts = {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in (
                "insight_hourly",
                "insight_daily",
                "insight_hourly_keys",
                "insight_daily_keys",
                "insight_daily_starts",
                "insight_hourly_texts",
            )
        }
        events = connection.scalar(
            text(
                "SELECT sum(messages_in + welcomes + menu_shown + category_opens + "
                "branch_choices + unrecognised_texts) FROM insight_hourly"
            )
        )
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(
        f"loaded in {time.perf_counter() - started:.0f} s: {SMALL + BUSY:,} restaurants, "
        f"{int(events or 0):,} events folded into "
        + ", ".join(f"{n:,} {table} rows" for table, n in counts.items())
    )
    return {k: int(v or 0) for k, v in counts.items()}


def measure(
    name: str, count: int, request: Callable[[], Any], statements: list[str]
) -> dict[str, Any]:
    for _ in range(100):
        request()
    timings, per_request = [], set()
    for _ in range(count):
        statements.clear()
        started = time.perf_counter()
        response = request()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
        per_request.add(sum(1 for s in statements if s.lstrip().upper().startswith("SELECT")))
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "name": name,
        "count": count,
        "p50": statistics.median(timings),
        "p99": cuts[98],
        "max": max(timings),
        "statements": sorted(per_request),
    }


def api_benchmark(database_url: str, redis_url: str, requests: int, *, load: bool = True) -> None:
    if load:
        load_aggregates(database_url)
    namespace = f"rbbench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url, redis_url=redis_url, redis_namespace=namespace,
        host="127.0.0.1", log_level="WARNING",
    )  # fmt: skip
    engine = make_engine(database_url)
    runtime = Runtime(settings, engine=engine, session_factory=make_session_factory(engine))
    app = create_app(runtime=runtime)
    client = app.test_client()
    rng = random.Random(12)
    small = [f"s{n:05d}" for n in range(SMALL)]
    busy = [f"b{n:05d}" for n in range(BUSY)]
    with runtime.transaction() as session:
        admin = {"X-API-Key": credentials.create_api_key(session, name="bench").secret}
    # One instant for the whole run, so the key's `last_used_at` is written once, not
    # every minute (that write is the usage benchmark's concern).
    frozen = utcnow()
    app.config[CLOCK] = lambda: frozen
    client.get("/api/usage", headers=admin)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    today = utcnow().date()

    def insights(ids: list[str], days: int) -> Callable[[], Any]:
        first = today - dt.timedelta(days=days - 1)
        return lambda: client.get(
            f"/api/insights?restaurantId={rng.choice(ids)}&from={first}&to={today}",
            headers=admin,
        )

    everyone = small + busy
    results = [
        measure(
            "baseline: GET /api/usage/<id>",
            requests,
            lambda: client.get(f"/api/usage/{rng.choice(everyone)}", headers=admin),
            statements,
        ),
        measure("insights, 30 days, any restaurant", requests, insights(everyone, 30), statements),
        measure(
            "insights, 366 days, any restaurant", requests, insights(everyone, 366), statements
        ),
        measure("insights, 30 days, busy restaurant", requests, insights(busy, 30), statements),
        measure("insights, 366 days, busy restaurant", requests, insights(busy, 366), statements),
    ]
    print()
    print("| scenario | requests | p50 ms | p99 ms | max ms | goal p99 ms | SELECTs/request |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        days = 366 if "366" in r["name"] else 30 if "insights" in r["name"] else None
        goal = GOALS_MS.get(days) if days else None
        target = "—" if goal is None else f"≤ {goal:g} ({'ok' if r['p99'] <= goal else 'MISSED'})"
        print(
            f"| {r['name']} | {r['count']:,} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.2f}"
            f" | {target} | {', '.join(map(str, r['statements']))} |"
        )
    keys = list(runtime.redis.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        runtime.redis.delete(*keys)
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=6, help="100-batch rounds per fold run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="per API scenario")
    parser.add_argument(
        "--receive",
        choices=("sqlite", "postgresql"),
        help="only: the webhook's transaction in process, events on vs off",
    )
    parser.add_argument("--skip-fold", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the API's loaded database")
    parser.add_argument("--reuse", metavar="URL", help="measure a database kept by --keep")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    with psycopg.connect(args.server) as connection:
        version = connection.execute("SHOW server_version").fetchone()
    print(
        f"PostgreSQL {version[0] if version else '?'}; {os.cpu_count()} CPUs; "
        f"{utcnow():%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}"
    )
    if args.receive == "sqlite":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/receive.db"
            upgrade(make_engine(url))
            receive_benchmark(url, redis_url, 40, 200)
        return
    if args.receive == "postgresql":
        with bench_database(args.server) as database_url:
            upgrade(make_engine(database_url))
            receive_benchmark(database_url, redis_url, 40, 200)
        return
    if not args.skip_fold:
        with bench_database(args.server) as database_url:
            upgrade(make_engine(database_url))
            fold_benchmark(database_url, redis_url, args.rounds, args.runs)
    if args.reuse:
        api_benchmark(args.reuse, redis_url, args.requests, load=False)
    elif not args.skip_api:
        with bench_database(args.server, keep=args.keep) as database_url:
            upgrade(make_engine(database_url))
            api_benchmark(database_url, redis_url, args.requests)


if __name__ == "__main__":
    main()
