"""Order-history import benchmark (issue 15): throughput and wall time of `import_orders`.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.imports [--db postgresql]

The demo catalog runs in a process of its own (`python -m localdev.catalog_server`), the
import in this one, exactly as a worker runs it (`imports.sync.OrderImporter` with the
runtime's orders feed, breaker and database), without the broker around it.

- throughput: the catalog answering at once, the demo restaurant at `--scale` times its
  orders per day, 30 days, 100 orders a page. Baseline, same run: the same pages read
  with the same concurrency and parsed, nothing stored.
- latency: every orders page answered after 50 ms, the demo at its own size, 10 orders a
  page. Goal: wall time ≤ 1.3 × the slowest day's pages × 50 ms.
Each first import is followed by a rerun of the same period (it changes nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import delete, func, select

from bench.support import ROOT, database, redis_url
from bot.runtime import Runtime
from catalog.client import CatalogClient, OrdersPage
from imports.feed import OrdersFeed
from imports.models import Order, OrderImportChunk
from imports.requests import ImportRequest
from imports.sync import OrderImporter
from store.db import make_engine
from store.migrations import upgrade
from store.restaurants import create_restaurant
from store.settings import Settings
from store.timeutil import utcnow

API_KEY = "bench-catalog-key"
DAYS = 30


@contextmanager
def catalog(latency: float, page_size: int, scale: float) -> Iterator[str]:
    """Run the demo catalog in a process of its own; yield its URL."""
    child = subprocess.Popen(
        [
            sys.executable, "-m", "localdev.catalog_server", "--port", "0",
            "--api-key", API_KEY, "--orders-latency", str(latency),
            "--orders-page-size", str(page_size), "--orders-scale", str(scale),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line.startswith("CATALOG_URL="), line
        yield line.split("=", 1)[1]
    finally:
        child.terminate()
        child.wait(10)


class TimedFeed(OrdersFeed):
    """The runtime's orders feed, noting how long each page took as the importer saw it."""

    def __init__(self, feed: OrdersFeed) -> None:
        self.__dict__.update(feed.__dict__)
        self.seconds: dict[str, float] = {}

    def page(self, merchant_id: str, url: str) -> OrdersPage:
        started = time.perf_counter()
        try:
            return super().page(merchant_id, url)
        finally:
            self.seconds[url] = time.perf_counter() - started


def slowest_day(seconds: dict[str, float]) -> float:
    """Return the largest sum of one day's page times (pages of a day share since/until)."""
    days: dict[str, float] = {}
    for url, took in seconds.items():
        window = re.sub(r"&page=\d+", "", url)
        days[window] = days.get(window, 0.0) + took
    return max(days.values())


def run_import(runtime: Runtime, request: ImportRequest, concurrency: int) -> dict[str, float]:
    """Import `request` once (a new job); return its figures."""
    feed = TimedFeed(runtime.orders_feed)
    importer = OrderImporter(runtime.transaction, feed, concurrency=concurrency)
    job_id = str(uuid.uuid4())
    reports: list[float] = []
    started = time.perf_counter()
    outcome = importer.run(job_id, request, lambda *_: reports.append(time.perf_counter()))
    wall = time.perf_counter() - started
    with runtime.read_transaction() as session:
        pages = session.scalars(
            select(OrderImportChunk.pages).where(OrderImportChunk.job_id == job_id)
        ).all()
    # The last progress report comes once the job is finished; the one before it after the
    # last page (and its day's aggregates) was stored.
    finish = reports[-1] - reports[-2] if len(reports) >= 2 else 0.0
    return {
        "wall": wall,
        "orders": outcome.orders,
        "pages": outcome.pages,
        "max_pages": max(pages),
        "slowest_day": slowest_day(feed.seconds),
        "finish": finish,
    }


def fetch_only(url: str, request: ImportRequest, concurrency: int) -> dict[str, float]:
    """Baseline: read and parse every page of the period with the same concurrency."""
    client = CatalogClient(url, API_KEY, max_connections=64)
    orders = 0
    lock = threading.Lock()

    def day(chunk) -> None:
        nonlocal orders
        page_url: str | None = client.orders_url("demo-merchant", chunk.since, chunk.until)
        while page_url:
            page = client.orders_page(page_url)
            with lock:
                orders += len(page.orders)
            page_url = page.next_url

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(day, request.chunks()))
    wall = time.perf_counter() - started
    client.close()
    return {"wall": wall, "orders": orders}


def scenario(
    name: str, kind: str, redis: str, runs: int, latency: float, page_size: int, scale: float
) -> list[dict[str, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        with catalog(latency, page_size, scale) as catalog_url:
            settings = Settings(
                database_url=url,
                redis_url=redis,
                redis_namespace=f"rbbench-{uuid.uuid4().hex[:8]}",
                sufrah_api_base=catalog_url,
                sufrah_api_key=API_KEY,
            )
            runtime = Runtime(settings)
            with runtime.transaction() as session:
                create_restaurant(
                    session,
                    settings,
                    restaurant_id="demo",
                    name="Demo",
                    whatsapp_number="+966500000001",
                    merchant_id="demo-merchant",
                    timezone="Asia/Riyadh",
                )
            concurrency = settings.import_concurrency
            for run in range(runs):
                with runtime.transaction() as session:
                    session.execute(delete(Order))
                request = ImportRequest.at("demo", DAYS, utcnow())
                if run == 0:
                    fetch_only(catalog_url, request, concurrency)  # the catalog's own warm-up
                baseline = fetch_only(catalog_url, request, concurrency)
                first = run_import(runtime, request, concurrency)
                rerun = run_import(runtime, request, concurrency)
                with runtime.read_transaction() as session:
                    stored = session.scalar(select(func.count()).select_from(Order))
                assert stored == first["orders"] == rerun["orders"], (stored, first, rerun)
                rows.append({"run": run + 1, "baseline": baseline, "first": first, "rerun": rerun})
                print(f"  {name} {kind} run {run + 1}: {json.dumps(rows[-1])}", flush=True)
            runtime.close()
    return rows


def report(name: str, kind: str, rows: list[dict], latency: float) -> None:
    print(f"\n### {name} ({kind})\n")
    if latency:
        print(
            "| run | orders | pages | slowest day: pages × 50 ms | its pages as measured"
            " | baseline: read only | first import | rerun | finishing |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            base, first, rerun = row["baseline"], row["first"], row["rerun"]
            nominal = first["max_pages"] * latency
            measured = first["slowest_day"]
            print(
                f"| {row['run']} | {first['orders']:,} | {first['pages']} |"
                f" {first['max_pages']} × 50 = {nominal * 1000:.0f} ms |"
                f" {measured * 1000:.0f} ms | {base['wall'] * 1000:.0f} ms |"
                f" {first['wall'] * 1000:.0f} ms = {first['wall'] / nominal:.2f}× nominal,"
                f" {first['wall'] / measured:.2f}× measured |"
                f" {rerun['wall'] * 1000:.0f} ms | {first['finish'] * 1000:.0f} ms |"
            )
        print("\ngoal: first import ≤ 1.3× the slowest day's page latencies")
        return
    print(
        "| run | orders | pages | baseline: read + parse only | first import | rerun (all known) |"
        " finishing |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        base, first, rerun = row["baseline"], row["first"], row["rerun"]

        def rate(figures: dict[str, float]) -> str:
            return f"{figures['wall']:.2f} s = {figures['orders'] / figures['wall']:,.0f}/s"

        print(
            f"| {row['run']} | {first['orders']:,} | {first['pages']} | {rate(base)} |"
            f" {rate(first)} | {rate(rerun)} | {first['finish'] * 1000:.0f} ms |"
        )
    best = max(r["first"]["orders"] / r["first"]["wall"] for r in rows)
    median = statistics.median(r["first"]["orders"] / r["first"]["wall"] for r in rows)
    print(f"\nfirst imports: median {median:,.0f} orders/s, best {best:,.0f} (goal ≥ 2,000)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=8.0, help="throughput: demo × this")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with redis_url() as redis:
        fast = scenario("throughput", args.db, redis, args.runs, 0.0, 100, args.scale)
        slow = scenario("latency", args.db, redis, args.runs, 0.05, 10, 1.0)
    report("Catalog answering at once, 100 orders a page", args.db, fast, 0.0)
    report("Catalog at 50 ms a page, 10 orders a page", args.db, slow, 0.05)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
