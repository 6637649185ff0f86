"""Benchmark of the owner's Insights page (issue 16) at 10,000 restaurants on PostgreSQL.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.owner_insights_page
        [--server postgresql://postgres@127.0.0.1:5432/postgres] [--requests 300]

The data is `bench.insights`' (10,000 restaurants, the aggregates of 10,000,000 events
over a year: 9,900 quiet restaurants and 100 busy ones with every hour of the year).
An operator signs in through the login form (session cookie, CSRF) and reads
`/dashboard/r/<id>/insights` through the real Flask app (its test client: server time,
no network) for 7, 30 and 366 days; the baseline of the same run is `GET /api/insights`
for the same restaurants and periods. p50/p99 and SELECTs per request. The database
and the Redis namespace are dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import event

from bench.insights import BUSY, SMALL, bench_database, load_aggregates, measure
from bot import create_app
from bot.runtime import Runtime
from store import credentials
from store.db import make_engine, make_session_factory
from store.migrations import upgrade
from store.settings import Settings
from store.timeutil import utcnow
from usage_api.clock import CLOCK

GOAL_MS = 50.0  # every owner page, p99 server time (issue 16)


def run(database_url: str, redis_url: str, requests: int) -> list[dict[str, Any]]:
    load_aggregates(database_url)
    namespace = f"rbbench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url, redis_url=redis_url, redis_namespace=namespace,
        host="127.0.0.1", log_level="WARNING", secret_key=uuid.uuid4().hex,
    )  # fmt: skip
    engine = make_engine(database_url)
    runtime = Runtime(settings, engine=engine, session_factory=make_session_factory(engine))
    app = create_app(runtime=runtime)
    page, api = app.test_client(), app.test_client()
    with runtime.transaction() as session:
        key = credentials.create_api_key(session, name="bench").secret
    frozen = utcnow()  # one instant: the session's and key's last use are written once
    app.config[CLOCK] = lambda: frozen
    form = page.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    signed = page.post("/dashboard/login", data={"csrf_token": token.group(1), "api_key": key})
    assert signed.status_code == 302, signed.get_data(as_text=True)[:300]
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    rng = random.Random(16)
    everyone = [f"s{n:05d}" for n in range(SMALL)] + [f"b{n:05d}" for n in range(BUSY)]
    busy = everyone[SMALL:]
    today = frozen.date()

    def read(kind: str, ids: list[str], days: int) -> Callable[[], Any]:
        first = today - dt.timedelta(days=days - 1)
        if kind == "page":
            return lambda: page.get(
                f"/dashboard/r/{rng.choice(ids)}/insights?from={first}&to={today}"
            )
        headers = {"X-API-Key": key}
        return lambda: api.get(
            f"/api/insights?restaurantId={rng.choice(ids)}&from={first}&to={today}",
            headers=headers,
        )

    results = []
    for who, ids in (("any restaurant", everyone), ("busy restaurant", busy)):
        for days in (7, 30, 366):
            for kind in ("api", "page"):
                name = f"{'GET /api/insights' if kind == 'api' else 'page'}, {days} d, {who}"
                results.append(measure(name, requests, read(kind, ids, days), statements))
    keys = list(runtime.redis.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        runtime.redis.delete(*keys)
    runtime.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=300, help="per scenario")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    with psycopg.connect(args.server) as connection:
        version = connection.execute("SHOW server_version").fetchone()
    print(
        f"PostgreSQL {version[0] if version else '?'}; {os.cpu_count()} CPUs; "
        f"{utcnow():%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}"
    )
    with bench_database(args.server) as database_url:
        upgrade(make_engine(database_url))
        results = run(database_url, redis_url, args.requests)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print()
    print("| scenario | requests | p50 ms | p99 ms | max ms | SELECTs/request |")
    print("|---|---:|---:|---:|---:|---|")
    for r in results:
        mark = ""
        if r["name"].startswith("page"):
            mark = f" ({'ok' if r['p99'] <= GOAL_MS else 'over'} ≤ {GOAL_MS:g})"
        print(
            f"| {r['name']} | {r['count']:,} | {r['p50']:.2f} | {r['p99']:.2f}{mark}"
            f" | {r['max']:.2f} | {', '.join(map(str, r['statements']))} |"
        )


if __name__ == "__main__":
    main()
