"""The services of the welcome-bootstrap benchmark and how it drives them (`bench.bootstrap`).

The catalog API and Twilio stand-ins run in the benchmark's process; gunicorn and the
worker are started by `bench.bootstrap.main` from the Procfile's lines.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bench.support import free_port, shell_env
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
    """Return the median duration of `times` calls, in s."""
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def probe_upstream(url: str, merchants: list[str], out: Any) -> None:
    """Put on `out` the median time of a cold merchant's two reads, made in parallel."""
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
    child = context.Process(target=probe_upstream, args=(url, merchants, out))
    child.start()
    median = float(out.get(timeout=120))
    child.join()
    return median
