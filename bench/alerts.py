"""Alerts benchmark: 10,000 restaurants cross a threshold within a minute; how long until
every notification has reached the receiver, with 2 worker processes.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.alerts --database postgresql

1. N restaurants (daily limit 10), each with a webhook channel to a local receiver (a real
   HTTP server in this process that checks every signature).
2. The Procfile's worker line starts with WORKER_PROCESSES=2.
3. The crossings: for each restaurant, the webhook's own decision function
   (`Crossings.after_accepted`) gets the counter values of the message that reaches 80 %
   of the daily limit, 100 restaurants per transaction, in `--writers` processes (as the
   webhook's several web processes would), as fast as they go (or spread evenly over
   `--spread` seconds); the delivery jobs are enqueued after each commit, as the webhook
   does.
4. Figures: how long the crossings took, the time from the first crossing to the last
   notification received, and the latency of each notification (event time → received).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import insert

from alerts.crossing import Crossings
from alerts.models import AlertChannel
from alerts.secrets import SecretBox
from bench.support import database, percentile, process, procfile_line, redis_url, shell_env
from localdev.webhook_receiver import SIGNATURE_HEADER, WebhookReceiver, verify
from store.counters import DayCounts, UsagePeriod
from store.db import make_engine, make_session_factory
from store.migrations import upgrade
from store.models import Restaurant, RestaurantBot
from store.settings import Settings
from store.timeutil import parse_iso_z, utcnow

SECRET = "whsec_bench"


class _Tenant:
    def __init__(self, restaurant_id: str) -> None:
        from alerts.rules import DEFAULT_RULES

        self.id = restaurant_id
        self.daily_limit = 10
        self.monthly_limit = 1_000_000
        self.alert_rules = DEFAULT_RULES


def seed(engine, count: int, receiver_url: str, box: SecretBox) -> list[str]:
    ids = [f"b{n:05d}" for n in range(count)]
    now = utcnow()
    token = box.encrypt(SECRET)
    with engine.begin() as connection:
        for start in range(0, count, 1000):
            chunk = ids[start : start + 1000]
            connection.execute(
                insert(Restaurant),
                [
                    {"id": rid, "name": rid, "whatsapp_number": f"+9661{n + start:08d}",
                     "merchant_id": "bench", "timezone": "UTC", "is_active": True,
                     "created_at": now}
                    for n, rid in enumerate(chunk)
                ],
            )  # fmt: skip
            connection.execute(
                insert(RestaurantBot),
                [
                    {"restaurant_id": rid, "max_messages_per_day": 10, "max_messages_per_min": 60,
                     "max_conversations_per_month": 1_000_000, "template_sids": {},
                     "enabled": True, "created_at": now, "updated_at": now}
                    for rid in chunk
                ],
            )  # fmt: skip
            connection.execute(
                insert(AlertChannel),
                [
                    {"id": f"ch_{rid}", "restaurant_id": rid, "type": "webhook",
                     "target": f"{receiver_url}/hook/{rid}", "secret": token, "created_at": now}
                    for rid in chunk
                ],
            )  # fmt: skip
    return ids


def cross(db_url: str, settings: Settings, ids: list[str], spread: float) -> None:
    """Write the crossings of `ids` as the webhook would, 100 a transaction (one process)."""
    from actors.broker import build_broker
    from bot import jobs

    engine = make_engine(db_url)
    broker = build_broker(settings)
    sessions = make_session_factory(engine)
    crossings = Crossings()
    period = UsagePeriod.of(utcnow(), "UTC")
    per_batch = 100
    pause = spread / max(1, len(ids) // per_batch)
    for start in range(0, len(ids), per_batch):
        batch_started = time.time()
        new_jobs = []
        with sessions() as session, session.begin():
            for rid in ids[start : start + per_batch]:
                new_jobs += crossings.after_accepted(
                    session, _Tenant(rid), period, DayCounts(8, 0), 0,
                    opened_conversation=False, now=utcnow(),
                )  # fmt: skip
        jobs.enqueue(broker, new_jobs)
        # As fast as it goes, or spread evenly over `spread` seconds.
        time.sleep(max(0.0, pause - (time.time() - batch_started)))
    broker.close()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--restaurants", type=int, default=10_000)
    parser.add_argument(
        "--spread", type=float, default=0.0, help="spread the crossings over (s); 0: at once"
    )
    parser.add_argument("--deadline", type=float, default=300.0, help="give up after (s)")
    parser.add_argument("--writers", type=int, default=4, help="processes writing crossings")
    args = parser.parse_args()

    key = Fernet.generate_key().decode()
    namespace = f"bench-alerts-{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_url() as redis,
        database(args.database, Path(tmp)) as db_url,
        WebhookReceiver() as receiver,
    ):
        engine = make_engine(db_url)
        upgrade(engine)
        box = SecretBox(key)
        ids = seed(engine, args.restaurants, receiver.url, box)
        engine.dispose()  # the writers fork: each opens its own connections
        settings = Settings(database_url=db_url, redis_url=redis, redis_namespace=namespace)
        env = shell_env(
            DATABASE_URL=db_url, REDIS_URL=redis, REDIS_NAMESPACE=namespace, SECRETS_KEY=key,
            ALERT_WEBHOOK_ALLOW_PRIVATE="1", WORKER_PROCESSES="2", LOG_LEVEL="WARNING",
        )  # fmt: skip
        log = Path(tmp) / "worker.log"
        with process(procfile_line("worker"), env, log=log):
            time.sleep(3)  # the worker processes start and connect
            context = multiprocessing.get_context("fork")
            started = time.time()
            writers = [
                context.Process(
                    target=cross, args=(db_url, settings, ids[n :: args.writers], args.spread)
                )
                for n in range(args.writers)
            ]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join()
            crossed = time.time() - started
            receiver.requests.wait_until(lambda r: len(r) >= len(ids), args.deadline)
            done = time.time() - started
            posts = receiver.posts()
        good = sum(1 for r in posts if verify(SECRET, r.headers.get(SIGNATURE_HEADER), r.body))
        events = {json.loads(r.body)["id"] for r in posts}
        latencies = sorted(
            r.received_at - parse_iso_z(json.loads(r.body)["occurredAt"]).timestamp() for r in posts
        )
        errors = log.read_text(errors="replace").count("Traceback")
    print(
        f"database: {args.database}; {len(ids)} restaurants, 2 worker processes x 8 threads"
        f" ({procfile_line('worker')})"
    )
    print(f"crossings written and enqueued in {crossed:.1f} s by {args.writers} processes")
    print(
        f"notifications received: {len(posts)} ({len(events)} distinct events, {good} signed"
        f" correctly) {done:.1f} s after the first crossing"
    )
    print(
        f"per notification, event → received: p50 {percentile(latencies, 50):.2f} s"
        f"  p99 {percentile(latencies, 99):.2f} s  max {latencies[-1] if latencies else 0:.2f} s"
    )
    print(f"worker log tracebacks: {errors}; at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
