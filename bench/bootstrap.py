"""Welcome-bootstrap benchmark (issue 4): wall time, menu hit vs miss, the herd, overhead.

    .venv/bin/python -m bench.bootstrap                       # SQLite
    .venv/bin/python -m bench.bootstrap --database postgresql

Real processes started from the Procfile's lines: gunicorn (`web`) and
`python -m actors.run_worker …` (`worker`, 2 processes × 8 threads), on a Redis namespace
and a database of the run's own. The catalog API (localdev CatalogServer) and Twilio
(FakeTwilio) are real HTTP servers in this process, so their records are read directly.

1. Bootstrap wall time — the job's run, JobTracking's `started_at` → `finished_at` — with
   the catalog and Twilio's Content API at 100 ms a request and everything cold, for a
   small restaurant (5 categories, 3 branches: a page each) and a large one (30
   categories over 3 pages, 20 branches over 2), ÷ the slowest single upstream request,
   and ÷ the slowest whole resource (its pages one after the other, as SPEC §7 requires).
2. `menu` reply time, webhook POST sent → the reply arriving at FakeTwilio: on a cache hit
   (answered inside the request) and on a miss (the reply actor fetches and sends).
3. Upstream requests for 100 new customers of one merchant writing at once, cold cache.
4. Actor overhead with upstream at 0 ms: the job's run on the fresh path (nothing to
   fetch, no rate-limit slot) and on the stale path minus the time of its upstream calls
   (measured from another process with the same client code, as a worker makes them).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from bench.bootstrap_services import (
    API_KEY,
    OVERHEAD_MERCHANTS,
    RESTAURANTS,
    WELCOME_SID,
    Bench,
    median_seconds,
    upstream_from_another_process,
)
from bench.support import database, percentile, process, procfile_line, redis_url
from catalog.client import CatalogClient
from store.models import Job


def upstream_times(bench: Bench, merchant_id: str) -> tuple[float, float]:
    """Return (slowest single request, slowest whole resource) of a merchant, in s."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    pages = []
    with httpx.Client(headers=auth) as http:
        for resource in ("categories", "branches"):
            url = f"{bench.catalog.url}/merchants/{merchant_id}/{resource}"
            while url:
                pages.append(url)
                following = http.get(url).json()["next"]
                url = (
                    following
                    if not following or "://" in following
                    else bench.catalog.url + following
                )
        single = max(median_seconds(lambda url=url: http.get(url)) for url in pages)
    with httpx.Client(auth=(bench.twilio.account_sid, bench.twilio.auth_token)) as http:
        content = f"{bench.twilio.url}/v1/Content/{WELCOME_SID}"
        single = max(single, median_seconds(lambda: http.get(content)))
    client = CatalogClient(bench.catalog.url, API_KEY)
    try:
        whole = max(
            median_seconds(lambda: client.categories(merchant_id)),
            median_seconds(lambda: client.branches(merchant_id)),
        )
    finally:
        client.close()
    return single, whole


def wall_time(bench: Bench, runs: int) -> None:
    bench.catalog.latency = bench.twilio.latency = 0.1
    print("\n1. bootstrap wall time, catalog and Content API at 100 ms a request, all cold")
    print("| restaurant | pages | wall ms (median, min–max) | slowest request ms | ratio | "
          "slowest resource ms | ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for restaurant_id, _, merchant_id, categories, branches in RESTAURANTS[:2]:
        walls = []
        for _ in range(runs):
            bench.purge(merchant_id, template=True)
            walls.append(bench.run_seconds(bench.enqueue_bootstrap(restaurant_id, merchant_id)))
        single, whole = upstream_times(bench, merchant_id)
        wall = statistics.median(walls)
        pages = f"{-(-categories // 10)}+{-(-branches // 10)}+1 template"
        print(
            f"| {restaurant_id} ({categories} categories, {branches} branches) | {pages} "
            f"| {wall * 1000:.0f} ({min(walls) * 1000:.0f}–{max(walls) * 1000:.0f}) "
            f"| {single * 1000:.1f} | {wall / single:.2f} "
            f"| {whole * 1000:.1f} | {wall / whole:.2f} |"
        )


def menu_hit_and_miss(bench: Bench, customers: int) -> None:
    bench.catalog.latency, bench.twilio.latency = 0.1, 0.0
    print(f"\n2. `menu` reply, webhook POST → reply at FakeTwilio ({customers} customers each)")
    print("| restaurant | hit p50 ms | hit p90 ms | miss p50 ms | miss p90 ms | "
          "miss: row → worker start p50 ms | hit ÷ miss (p50) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for restaurant_id, number, merchant_id, _, _ in RESTAURANTS[:2]:
        hits, misses, waits = [], [], []
        for _ in range(customers):
            sender = next(bench.customers)
            bench.post(sender, number, "hi")
            bench.reply_after(sender, 0, "", timeout=30)  # the welcome
            time.sleep(0.02)
            job = bench.latest_job("welcome_bootstrap", restaurant_id)
            bench.run_seconds(job.id)  # the bootstrap warmed the cache
            sent = bench.post(sender, number, "menu")
            hits.append(bench.reply_after(sender, sent, "Our menu") - sent)
            bench.cache.delete(bench.keys.categories(merchant_id))  # what `menu` needs
            time.sleep(0.05)
            sent = bench.post(sender, number, "menu")
            misses.append(bench.reply_after(sender, sent, "Our menu") - sent)
            reply = bench.latest_job("send_deferred_replies", restaurant_id)
            bench.run_seconds(reply.id)
            reply = bench.latest_job("send_deferred_replies", restaurant_id)
            waits.append((reply.started_at - reply.created_at).total_seconds())
        hits.sort()
        misses.sort()
        print(
            f"| {restaurant_id} "
            f"| {percentile(hits, 50) * 1000:.1f} | {percentile(hits, 90) * 1000:.1f} "
            f"| {percentile(misses, 50) * 1000:.0f} | {percentile(misses, 90) * 1000:.0f} "
            f"| {statistics.median(waits) * 1000:.0f} "
            f"| {percentile(hits, 50) / percentile(misses, 50):.3f} |"
        )


def herd(bench: Bench, customers: int) -> None:
    restaurant_id, number, merchant_id, _, _ = RESTAURANTS[2]
    bench.catalog.latency, bench.twilio.latency = 0.1, 0.0
    bench.purge(merchant_id, template=True)
    bench.catalog.clear_requests()
    bench.twilio.clear_requests()
    senders = [next(bench.customers) for _ in range(customers)]
    start = threading.Barrier(customers)

    def write(sender: str) -> None:
        start.wait()
        bench.post(sender, number, "hi")

    threads = [threading.Thread(target=write, args=(s,)) for s in senders]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posted = time.monotonic() - began
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with bench.engine.connect() as connection:
            rows = connection.execute(
                select(Job.status, Job.result).where(
                    Job.actor == "welcome_bootstrap", Job.restaurant_id == restaurant_id
                )
            ).all()
        if len(rows) == customers and all(r.status == "succeeded" for r in rows):
            break
        time.sleep(0.05)
    done = time.monotonic() - began
    statuses = {
        status: sum(1 for r in rows if r.status == status) for status in {r.status for r in rows}
    }
    fetched = sum(1 for r in rows if r.result and r.result.get("cacheHits", 0) < 2)
    by_page: dict[str, int] = {}
    for request in bench.catalog.requests:
        if request.path.startswith(f"/merchants/{merchant_id}/"):
            by_page[request.target] = by_page.get(request.target, 0) + 1
    content = sum(1 for r in bench.twilio.requests if r.path.startswith("/v1/Content/"))
    print(f"\n3. {customers} new customers of one merchant at once, cold cache, catalog at 100 ms")
    print(
        f"webhooks answered in {posted:.2f} s; all bootstraps done after {done:.2f} s: {statuses}"
    )
    print(f"bootstraps that fetched (the rest found the data fresh): {fetched}")
    for target, count in sorted(by_page.items()):
        print(f"  {count} × GET {target}")
    print(f"  {content} × GET /v1/Content/{WELCOME_SID} (Twilio)")
    total = sum(by_page.values()) + content
    print(f"upstream requests: {total} for {len(by_page) + 1} pages and templates")


def overhead(bench: Bench, runs: int) -> None:
    bench.catalog.latency = bench.twilio.latency = 0.0
    print("\n4. actor overhead, upstream at 0 ms (one job at a time; the job's run from its row)")
    # This process stays asleep while a job runs: its own threads serve the catalog.
    look = 0.03
    bench.run_seconds(bench.enqueue_bootstrap("small", "small"), first_look=look)  # warm
    fresh = [
        bench.run_seconds(bench.enqueue_bootstrap("small", "small"), first_look=look)
        for _ in range(runs)
    ]
    half = OVERHEAD_MERCHANTS // 2
    cold_tenant = [
        bench.run_seconds(bench.enqueue_bootstrap(f"o{i}", f"o{i}"), first_look=look)
        for i in range(min(runs, half))
    ]
    warm_tenant = [  # the restaurant "small" (looked up moments ago), a cold merchant each
        bench.run_seconds(bench.enqueue_bootstrap("small", f"o{i}"), first_look=look)
        for i in range(half, half + min(runs, half))
    ]
    upstream = upstream_from_another_process(bench.catalog.url, [f"o{i}" for i in range(half)])
    print("| path | jobs | run p50 ms | run p90 ms | minus upstream (p50) ms |")
    print("|---|---|---|---|---|")
    rows = [
        ("fresh (nothing to fetch, no slot)", fresh, 0.0),
        ("stale, restaurant looked up in the database", cold_tenant, upstream),
        ("stale, restaurant in the 5 s tenant cache", warm_tenant, upstream),
    ]
    for name, runs_of, minus in rows:
        runs_of.sort()
        print(
            f"| {name} | {len(runs_of)} | {percentile(runs_of, 50) * 1000:.2f} "
            f"| {percentile(runs_of, 90) * 1000:.2f} "
            f"| {(percentile(runs_of, 50) - minus) * 1000:.2f} |"
        )
    print(
        f"upstream: categories and branches of a cold merchant fetched in parallel by the same "
        f"client code from another process: median {upstream * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=10, help="cold bootstraps per restaurant")
    parser.add_argument("--customers", type=int, default=20, help="per restaurant, menu phase")
    parser.add_argument("--herd", type=int, default=100)
    parser.add_argument("--overhead-runs", type=int, default=50, help="per path")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_url() as redis,
        database(args.database, Path(tmp)) as db_url,
    ):
        bench = Bench(redis, db_url)
        try:
            bench.add_restaurants()
            from actors.broker import setup_broker

            setup_broker(bench.settings)  # this process enqueues like the webhook does
            logs = Path(tmp)
            with (
                process(procfile_line("web"), bench.env, f"http://127.0.0.1:{bench.port}/healthz",
                        log=logs / "web.log"),
                process(procfile_line("worker"), bench.env, log=logs / "worker.log"),
            ):  # fmt: skip
                bench.run_seconds(bench.enqueue_bootstrap("small", "small"), timeout=60)
                print(f"database: {args.database}; web: {procfile_line('web')}")
                print(f"worker: {procfile_line('worker')}")
                wall_time(bench, args.runs)
                menu_hit_and_miss(bench, args.customers)
                herd(bench, args.herd)
                overhead(bench, args.overhead_runs)
        finally:
            bench.close()


if __name__ == "__main__":
    main()
