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
import multiprocessing
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bench.support import (
    database,
    free_port,
    percentile,
    process,
    procfile_line,
    redis_url,
    shell_env,
)
from bench.webhook import inbound, signed
from cache.keys import CacheKeys
from cache.two_tier import TwoTierCache
from catalog.client import CatalogClient
from localdev.catalog_server import Catalog, CatalogServer, synthetic_merchant
from localdev.fake_twilio import FakeTwilio
from store.db import make_engine
from store.migrations import upgrade
from store.models import Job
from store.redis import make_redis
from store.restaurants import BotLimits, create_restaurant
from store.settings import Settings

API_KEY = "bench-catalog-key"
WELCOME_SID = "HX" + "b" * 32
UNLIMITED = BotLimits(100_000_000, 100_000_000, 100_000_000)
# (restaurant id, WhatsApp number, merchant, categories, branches)
RESTAURANTS = [
    ("small", "+966500000101", "small", 5, 3),
    ("large", "+966500000102", "large", 30, 20),
    ("herd", "+966500000103", "herd", 30, 20),
]
OVERHEAD_MERCHANTS = 120


class Bench:
    """The services of one run and what the measurements share."""

    def __init__(self, redis: str, database_url: str) -> None:
        self.catalog = CatalogServer(Catalog(), api_key=API_KEY).start()
        self.twilio = FakeTwilio().start()
        self.settings = Settings(
            host="127.0.0.1",
            database_url=database_url,
            redis_url=redis,
            redis_namespace=f"rbbench-{uuid.uuid4().hex[:8]}",
            twilio_account_sid=self.twilio.account_sid,
            twilio_auth_token=self.twilio.auth_token,
            twilio_api_base_url=self.twilio.url,
            sufrah_api_base=self.catalog.url,
            sufrah_api_key=API_KEY,
        )
        self.port = free_port()
        self.webhook = f"http://127.0.0.1:{self.port}/whatsapp/webhook"
        self.env = shell_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis,
            REDIS_NAMESPACE=self.settings.redis_namespace,
            TWILIO_ACCOUNT_SID=self.twilio.account_sid,
            TWILIO_AUTH_TOKEN=self.twilio.auth_token,
            TWILIO_API_BASE_URL=self.twilio.url,
            SUFRAH_API_BASE=self.catalog.url,
            SUFRAH_API_KEY=API_KEY,
            HOST="127.0.0.1",
            PORT=str(self.port),
            LOG_LEVEL="WARNING",
        )
        self.engine: Engine = make_engine(database_url)
        upgrade(self.engine)
        self.redis = make_redis(redis)
        self.keys = CacheKeys.for_namespace(self.settings.redis_namespace)
        self.cache = TwoTierCache.from_settings(self.settings, self.redis)
        self.customers = (f"+9665{n:08d}" for n in range(10_000_000, 99_999_999))

    def add_restaurants(self) -> None:
        merchants = [(r, n, m, synthetic_merchant(c, b)) for r, n, m, c, b in RESTAURANTS]
        merchants += [
            (f"o{i}", f"+9665002{i:05d}", f"o{i}", synthetic_merchant(5, 3))
            for i in range(OVERHEAD_MERCHANTS)
        ]
        with self.engine.begin() as connection:
            session = Session(bind=connection)
            for restaurant_id, number, merchant_id, merchant in merchants:
                self.catalog.catalog.set_merchant(merchant_id, merchant)
                create_restaurant(
                    session,
                    self.settings,
                    restaurant_id=restaurant_id,
                    name=f"Bench {restaurant_id} / مطعم",
                    whatsapp_number=number,
                    merchant_id=merchant_id,
                    limits=UNLIMITED,
                    welcome_content_sid=WELCOME_SID,
                )
            session.flush()

    # -- driving -------------------------------------------------------------------------

    def enqueue_bootstrap(self, restaurant_id: str, merchant_id: str) -> str:
        """Send a bootstrap message the way the webhook does; return the job id."""
        from actors.bootstrap import welcome_bootstrap

        payload = {
            "restaurant_id": restaurant_id,
            "merchant_id": merchant_id,
            "customer": next(self.customers),
            "requested_at": "2026-11-23T10:00:00.000Z",
        }
        return str(welcome_bootstrap.send_with_options(kwargs=payload).message_id)

    def run_seconds(self, job_id: str, timeout: float = 60, first_look: float = 0.0) -> float:
        """Wait for the job to succeed; return its run (started_at → finished_at) in s."""
        time.sleep(first_look)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(Job.status, Job.started_at, Job.finished_at, Job.error).where(
                        Job.id == job_id
                    )
                ).first()
            if row is not None and row.status == "succeeded" and row.finished_at:
                return (row.finished_at - row.started_at).total_seconds()
            if row is not None and row.status in ("failed", "dead"):
                raise SystemExit(f"job {job_id} {row.status}: {row.error}")
            time.sleep(0.005)
        raise SystemExit(f"job {job_id} did not finish in {timeout} s")

    def post(self, sender: str, restaurant_number: str, text: str) -> float:
        """POST a signed inbound message; return the wall-clock time it was sent."""
        form = inbound(sender, text)
        form["To"] = f"whatsapp:{restaurant_number}"
        body, headers = signed(self.webhook, self.twilio.auth_token, form)
        request = urllib.request.Request(self.webhook, data=body, headers=headers)
        sent = time.time()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        return sent

    def reply_after(self, sender: str, since: float, starts: str, timeout: float = 30) -> float:
        """Return when the first reply to `sender` starting with `starts` arrived after `since`."""

        def found(messages: list[dict[str, Any]]) -> bool:
            return any(self._matches(m, sender, since, starts) for m in messages)

        if not self.twilio.messages.wait_until(found, timeout):
            raise SystemExit(f"no reply {starts!r} to {sender} within {timeout} s")
        return next(
            m["received_at"]
            for m in self.twilio.messages
            if self._matches(m, sender, since, starts)
        )

    @staticmethod
    def _matches(message: dict[str, Any], sender: str, since: float, starts: str) -> bool:
        return (
            message.get("To") == f"whatsapp:{sender}"
            and message["received_at"] >= since
            and (message.get("Body") or "").startswith(starts)
        )

    def purge(self, merchant_id: str, template: bool = False) -> None:
        """Drop the merchant's catalog (and the template) from Redis and every local tier."""
        self.cache.purge_prefix(self.keys.merchant_prefix(merchant_id))
        if template:
            self.cache.delete(self.keys.template(WELCOME_SID))
        time.sleep(0.05)  # the notice reaches every process's local tier within ms

    def latest_job(self, actor: str, restaurant_id: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(Job)
                .where(Job.actor == actor, Job.restaurant_id == restaurant_id)
                .order_by(Job.created_at.desc())
                .limit(1)
            ).first()

    def close(self) -> None:
        """Stop the stand-ins and remove the run's Redis keys (the database is dropped)."""
        self.cache.close()
        namespace = f"{self.settings.redis_namespace}:*"
        for key in self.redis.scan_iter(match=namespace, count=1000):
            self.redis.unlink(key)
        self.redis.close()
        self.engine.dispose()
        self.catalog.stop()
        self.twilio.stop()


def median_seconds(call: Callable[[], object], times: int = 7) -> float:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


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


def _probe_upstream(url: str, merchants: list[str], out: Any) -> None:
    client = CatalogClient(url, API_KEY)
    with ThreadPoolExecutor(1) as pool:
        times = []
        for merchant in [merchants[0], *merchants]:  # the first one opens the connections
            started = time.perf_counter()
            branches = pool.submit(client.branches, merchant)
            client.categories(merchant)
            branches.result()
            times.append(time.perf_counter() - started)
    client.close()
    out.put(statistics.median(times[1:]))


def upstream_from_another_process(url: str, merchants: list[str]) -> float:
    """Return the median time of a bootstrap's two upstream calls, made as a worker makes
    them (one in a pool thread), from a process other than the catalog's."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=_probe_upstream, args=(url, merchants, out))
    child.start()
    median = float(out.get(timeout=120))
    child.join()
    return median


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
