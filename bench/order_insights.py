"""The `orders` part of the insights with a year of orders for 10,000 restaurants (issue 15).

    .venv/bin/python -m bench.order_insights [--requests 300]

PostgreSQL on 127.0.0.1; the script creates `bench_<random>`, fills the order aggregates
with `INSERT … SELECT generate_series(…)` (no Python per row), measures
`imports.insights.orders_section` (what `GET /api/insights` adds for `orders`) and drops
the database.

Data: 10,000 restaurants (five zones) with a succeeded import each and a year of order
aggregates: 9,980 small ones with one trading hour a day (one item, one branch, one
customer) and 20 busy ones with twelve trading hours a day, 15 products, 3 branches and
6 customers an hour (4,380 hours, 65,700 hourly item rows each), and the daily rows the
rebuild derives from the same orders; then `VACUUM ANALYZE`, as autovacuum would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, event, text

from bench.support import database
from imports.insights import orders_section
from store.db import make_engine, make_session_factory
from store.migrations import upgrade
from store.periods import default_period

RESTAURANTS = 10_000
BUSY = 20
ZONES = ("Asia/Riyadh", "Asia/Dubai", "Asia/Kolkata", "Europe/London", "UTC")
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)

FILL = [
    # Restaurants: r00001…; the first BUSY are the busy ones.
    """INSERT INTO restaurants (id, name, whatsapp_number, merchant_id, timezone, is_active,
                                created_at)
       SELECT 'r' || lpad(n::text, 5, '0'), 'Restaurant ' || n, '+9665' || lpad(n::text, 8, '0'),
              'm' || n, (ARRAY['Asia/Riyadh','Asia/Dubai','Asia/Kolkata','Europe/London','UTC'])
              [1 + n % 5], true, now()
       FROM generate_series(1, {restaurants}) AS n""",
    """INSERT INTO order_imports (job_id, restaurant_id, days, since, until, status, orders,
                                  created_at, finished_at)
       SELECT 'job-' || id, id, 365, {start}, {now}, 'succeeded', 0, now(), now()
       FROM restaurants""",
    # Small restaurants: one trading hour a day (13:00 UTC).
    """CREATE TEMP TABLE small_hours AS
       SELECT r.id AS restaurant_id, d + interval '13 hours' AS hour
       FROM restaurants AS r,
            generate_series({start}, {now} - interval '1 day', interval '1 day') AS d
       WHERE r.id > 'r' || lpad('{busy}', 5, '0')""",
    """INSERT INTO order_hours SELECT restaurant_id, hour, 'SAR', 3, 9150 FROM small_hours""",
    """INSERT INTO order_item_hours SELECT restaurant_id, hour, 'p1', 'SAR', 3, 9150
       FROM small_hours""",
    """INSERT INTO order_branch_hours SELECT restaurant_id, hour, 'b1', 3 FROM small_hours""",
    """INSERT INTO order_customer_hours SELECT restaurant_id, hour,
       'c' || (extract(doy FROM hour)::int % 40), 1 FROM small_hours""",
    # Busy restaurants: twelve trading hours a day.
    """CREATE TEMP TABLE busy_hours AS
       SELECT r.id AS restaurant_id, d + h * interval '1 hour' AS hour
       FROM restaurants AS r,
            generate_series({start}, {now} - interval '1 day', interval '1 day') AS d,
            generate_series(9, 20) AS h
       WHERE r.id <= 'r' || lpad('{busy}', 5, '0')""",
    """INSERT INTO order_hours SELECT restaurant_id, hour, 'SAR', 20, 210000 FROM busy_hours""",
    """INSERT INTO order_item_hours SELECT restaurant_id, hour, 'p' || p, 'SAR',
       1 + p % 4, (1 + p % 4) * 1500 FROM busy_hours, generate_series(1, 15) AS p""",
    """INSERT INTO order_branch_hours SELECT restaurant_id, hour, 'b' || b, 7 - b
       FROM busy_hours, generate_series(1, 3) AS b""",
    """INSERT INTO order_customer_hours SELECT restaurant_id, hour,
       'c' || ((extract(doy FROM hour)::int * 12 + extract(hour FROM hour)::int) * 6 + c) % 3000,
       1 FROM busy_hours, generate_series(1, 6) AS c""",
    # Product names, and the daily rows the rebuild derives from the same orders.
    """INSERT INTO order_products SELECT DISTINCT restaurant_id, product_id,
       'Item ' || product_id || ' / صنف', {now} FROM order_item_hours""",
    """INSERT INTO order_item_days SELECT restaurant_id, (hour AT TIME ZONE 'UTC')::date,
       product_id, currency, sum(quantity), sum(revenue_minor) FROM order_item_hours
       GROUP BY 1, 2, 3, 4""",
    """INSERT INTO order_branch_days SELECT restaurant_id, (hour AT TIME ZONE 'UTC')::date,
       branch_id, sum(orders) FROM order_branch_hours GROUP BY 1, 2, 3""",
    """INSERT INTO order_customer_days SELECT restaurant_id, (hour AT TIME ZONE 'UTC')::date,
       customer_ref, sum(orders) FROM order_customer_hours GROUP BY 1, 2, 3""",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--reuse", help="a database URL this script filled before (not dropped)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp, _database(args.reuse, Path(tmp)) as url:
        engine = make_engine(url)
        if not args.reuse:
            _fill(engine)
        measure(engine, args.requests)
        engine.dispose()
    print(f"\nload average after: {os.getloadavg()}")


@contextmanager
def _database(reuse: str | None, tmp: Path) -> Iterator[str]:
    if reuse:
        yield reuse
        return
    with database("postgresql", tmp) as url:
        print(f"database: {url}")
        yield url


def _fill(engine: Engine) -> None:
    upgrade(engine)
    started = time.perf_counter()
    values = {
        "restaurants": RESTAURANTS,
        "busy": BUSY,
        "start": f"'{(NOW - dt.timedelta(days=365)).isoformat()}'::timestamptz",
        "now": f"'{NOW.isoformat()}'::timestamptz",
    }
    with engine.begin() as connection:
        for sql in FILL:
            connection.execute(text(sql.format(**values)))
    with engine.connect() as connection:
        # What autovacuum does to tables that only grow: statistics, and the visibility map
        # that index-only scans need.
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        sizes = {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608
            for table in (
                "order_hours",
                "order_item_hours",
                "order_item_days",
                "order_branch_hours",
                "order_branch_days",
                "order_customer_hours",
                "order_customer_days",
            )
        }
    print(f"loaded in {time.perf_counter() - started:.0f} s: {sizes}")


def measure(engine: Engine, requests: int) -> None:
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    sessions = make_session_factory(engine)
    rng = random.Random(15)
    print("\n| restaurants | period | requests | p50 ms | p99 ms | max ms | statements |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, ids in (
        ("busy", [f"r{n:05d}" for n in range(1, BUSY + 1)]),
        ("small", [f"r{n:05d}" for n in range(BUSY + 1, RESTAURANTS + 1)]),
    ):
        for days in (7, 30, 366):
            timings, counts = [], set()
            for _ in range(requests):
                restaurant = rng.choice(ids)
                zone = ZONES[int(restaurant[1:]) % 5]
                period = default_period(NOW, zone, days)
                statements.clear()
                begun = time.perf_counter()
                with sessions() as session, session.begin():
                    section = orders_section(session, restaurant, period)
                timings.append((time.perf_counter() - begun) * 1000)
                counts.add(sum(1 for s in statements if s.lstrip().startswith("SELECT")))
                assert section is not None
                assert section["count"] > 0
            timings.sort()
            p99 = statistics.quantiles(timings, n=100, method="inclusive")[98]
            print(
                f"| {label} | {days} days | {len(timings)} | {statistics.median(timings):.2f}"
                f" | {p99:.2f} | {timings[-1]:.2f} | {sorted(counts)} |"
            )


if __name__ == "__main__":
    main()
