"""Data an operator would see on a working day: restaurants with usage, a month of jobs,
dead letters of a few error classes, an open breaker, audit entries, insight batches.

Written through the store's own functions where the web app would write (restaurants,
counters, credentials); job rows, dead letters and the rollup the way workers and the
scheduler leave them. Used by the dashboard's browser tests and their screenshots.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import uuid
from typing import Any

import dramatiq
from sqlalchemy import update

from actors.dead_letter_store import index_row, letter_of_message
from bot.runtime import Runtime
from insights import batches, folding
from insights import events as insight_events
from insights.events import Event
from operations import audit, dead_letter_index, job_outcomes
from store import counters
from store.counters import UsagePeriod
from store.models import Job
from store.restaurants import BotLimits, create_restaurant

RESTAURANTS = [
    ("demo", "Al Diwan Grill / مطعم الديوان", "Asia/Riyadh", "demo-merchant", 1000, 30000),
    ("burger-hub", "Burger Hub", "Asia/Dubai", "m-burger", 500, 3000),
    ("shawarma-house", "بيت الشاورما", "Asia/Riyadh", "m-shawarma", 1000, 1200),
    ("cafe-nour", "Café Nour", "Africa/Cairo", "m-nour", 300, 2000),
    ("pizza-corner", "Pizza Corner", "Europe/London", "m-pizza", 800, 10000),
    ("sushi-bay", "Sushi Bay", "Asia/Kuwait", "m-sushi", 200, 900),
]
ACTORS = [("welcome_bootstrap", "bootstrap"), ("deliver_message", "delivery")]


def seed_restaurants(runtime: Runtime, now: dt.datetime) -> None:
    """Six restaurants, with conversations and messages this month and before."""
    rng = random.Random(7)
    with runtime.transaction() as session:
        for n, (rid, name, zone, merchant, daily, monthly) in enumerate(RESTAURANTS):
            create_restaurant(
                session,
                runtime.settings,
                restaurant_id=rid,
                name=name,
                whatsapp_number=f"+96650000{n + 1:04d}",
                merchant_id=merchant,
                timezone=zone,
                limits=BotLimits(daily, 20, monthly),
            )
            for months_ago in range(6):
                at = now - dt.timedelta(days=30 * months_ago + 1)
                period = UsagePeriod.of(at, zone)
                for _ in range(rng.randint(3, 12) * (6 - months_ago)):
                    counters.record_month(
                        session, rid, period, at, messages=3, opens_conversation=True
                    )
            today = UsagePeriod.of(now, zone)
            for _ in range(min(daily, rng.randint(5, 60) if rid != "sushi-bay" else daily)):
                counters.take_daily_message(session, rid, today, 10**9)


def seed_jobs(runtime: Runtime, now: dt.datetime, *, days: int = 30) -> list[str]:
    """A month of finished jobs (and their hourly rollup), some queued and running."""
    rng = random.Random(11)
    rows: list[dict[str, Any]] = []
    for hour in range(days * 24):
        started = now - dt.timedelta(hours=hour)
        busy = 4 + int(6 * abs(((started.hour + 3) % 24) - 12) < 30)
        for _ in range(rng.randint(0, busy)):
            actor, queue = rng.choice(ACTORS)
            status = rng.choices(["succeeded", "failed", "dead"], weights=[92, 3, 5])[0]
            created = started - dt.timedelta(minutes=rng.randint(0, 59))
            rows.append(_job(actor, queue, rng.choice(RESTAURANTS)[0], status, created, now))
    active = []
    for n, status in enumerate(["running", "running", "queued", "queued", "queued"]):
        actor, queue = ACTORS[n % 2]
        row = _job(actor, queue, RESTAURANTS[n][0], status, now - dt.timedelta(minutes=n), now)
        row.update(progress_done=n, progress_total=5 if status == "running" else 0)
        row["progress_step"] = "fetching branches" if status == "running" else None
        rows.append(row)
        active.append(row["id"])
    with runtime.transaction() as session:
        for start in range(0, len(rows), 1000):
            session.execute(Job.__table__.insert(), rows[start : start + 1000])
        job_outcomes.refresh(session, now=now, retention_days=days + 2)
    return active


def _job(
    actor: str, queue: str, restaurant: str, status: str, created: dt.datetime, now: dt.datetime
) -> dict[str, Any]:
    finished = (
        min(created + dt.timedelta(seconds=2), now) if status in job_outcomes.OUTCOMES else None
    )
    return {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "queue": queue,
        "restaurant_id": restaurant,
        "status": status,
        "attempts": 4 if status == "dead" else 1,
        "progress_done": 0,
        "progress_total": 0,
        "progress_step": None,
        "payload": {"kwargs": {"restaurant_id": restaurant}},
        "result": None,
        "error": "CatalogUnavailable: catalog answered 503" if status == "dead" else None,
        "created_at": created,
        "enqueued_at": created,
        "started_at": created if status != "queued" else None,
        "finished_at": finished,
        "updated_at": finished or created,
        "worker_id": None,
    }


def put_dead_letter(
    runtime: Runtime,
    *,
    actor: str,
    queue: str,
    kwargs: dict[str, Any],
    error_class: str,
    last_error: str,
    at: dt.datetime,
    indexed: bool = True,
) -> str:
    """Put a dead letter where Dramatiq's Redis broker keeps them, and (unless `indexed`
    is False) its row in the index, as the worker's middleware would; return its id."""
    redis_id = str(uuid.uuid4())
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue,
        actor_name=actor,
        args=(),
        kwargs=kwargs,
        options={"redis_message_id": redis_id, "retries": 3},
    )
    ns = runtime.settings.redis_namespace
    pipe = runtime.redis.pipeline()
    pipe.hset(f"{ns}:{queue}.XQ.msgs", redis_id, message.encode())
    pipe.zadd(f"{ns}:{queue}.XQ", {redis_id: int(at.timestamp() * 1000)})
    pipe.execute()
    if indexed:
        letter = letter_of_message(message, queue=queue, redis_id=redis_id, dead_lettered_at=at)
        row = index_row(letter, error_class=error_class, last_error=last_error, attempts=4)
        with runtime.transaction() as session:
            dead_letter_index.upsert(session, [row])
    return message.message_id


def seed_dead_letters(runtime: Runtime, now: dt.datetime) -> list[str]:
    """Dead letters of three error classes, the way a bad hour leaves them."""
    kinds = [
        (
            "welcome_bootstrap",
            "bootstrap",
            "CatalogUnavailable",
            "catalog breaker for m-burger is open",
            9,
        ),
        (
            "deliver_message",
            "delivery",
            "TwilioError:63016",
            "outbound message: 63016 outside the 24-hour window",
            4,
        ),
        ("welcome_bootstrap", "bootstrap", "CatalogRejected", "catalog answered 404", 2),
    ]
    ids = []
    for n, (actor, queue, error_class, error, count) in enumerate(kinds):
        for m in range(count):
            restaurant = RESTAURANTS[(n + m) % 3 + 1][0]
            ids.append(
                put_dead_letter(
                    runtime,
                    actor=actor,
                    queue=queue,
                    kwargs={"restaurant_id": restaurant},
                    error_class=error_class,
                    last_error=f"{error_class.split(':')[0]}: {error}",
                    at=now - dt.timedelta(minutes=7 * m + 40 * n),
                )
            )
    return ids


def seed_breaker(runtime: Runtime, merchant: str = "m-burger") -> None:
    """Open the catalog breaker of `merchant`, as failing calls would."""
    from catalog.errors import CatalogError, ErrorKind

    breaker = runtime.catalog_breaker

    def failing() -> None:
        raise CatalogError("catalog answered 503", kind=ErrorKind.UPSTREAM_FAILURE)

    for _ in range(runtime.settings.catalog_breaker_failures):
        with contextlib.suppress(CatalogError):
            breaker.call(merchant, failing)


def seed_audit(runtime: Runtime, key_prefix: str, now: dt.datetime) -> None:
    """Two operator actions of the last hour."""
    with runtime.transaction() as session:
        audit.record(
            session,
            key_prefix=key_prefix,
            action="dead_letters.retry",
            count=12,
            filter={"errorClass": "CatalogUnavailable", "actor": "welcome_bootstrap"},
            at=now - dt.timedelta(minutes=50),
        )
        audit.record(
            session,
            key_prefix=key_prefix,
            action="dead_letters.delete",
            count=1,
            ids=["5f0c…"],
            at=now - dt.timedelta(minutes=20),
        )


# Insight batches of the last day: (restaurant, events of each analyzed batch, sealed
# batch waiting for its analysis or None, events waiting now).
BATCHES = [
    ("demo", [100, 100, 64], None, 37),
    ("burger-hub", [100, 58], None, 0),
    ("shawarma-house", [41], 120, 0),
    ("cafe-nour", [23], None, 0),
    ("pizza-corner", [100], None, 0),
    ("sushi-bay", [], None, 12),
]
SECOND = dt.timedelta(seconds=1)
_EVENT_KINDS = ["message_in", "message_in", "welcome_sent", "menu_shown", "help_shown"]


def seed_batches(runtime: Runtime, now: dt.datetime) -> None:
    """Conversation events sealed into batches the way the scheduler and workers leave
    them: analyzed ones (their jobs succeeded), a sealed one whose analysis is still
    queued, and events waiting at two restaurants. Nothing is enqueued."""
    rng = random.Random(13)

    def write(
        session: Any, restaurant_id: str, count: int, end: dt.datetime, spread_s: int = 900
    ) -> None:
        moments = sorted(end - dt.timedelta(seconds=rng.randint(1, spread_s)) for _ in range(count))
        rows = [
            Event(restaurant_id, 1 + n % 7, 1 + n % 5, rng.choice(_EVENT_KINDS), at)
            for n, at in enumerate(moments)
        ]
        insight_events.write(session.connection(), rows)

    for n, (restaurant_id, analyzed, sealed, waiting) in enumerate(BATCHES):
        at = now - dt.timedelta(hours=20 - n)
        rounds = [(count, True) for count in analyzed] + ([(sealed, False)] if sealed else [])
        for count, analyze in rounds:
            # The batch still to analyze was sealed a moment ago (no alarm on the Overview).
            at = at + dt.timedelta(minutes=rng.randint(25, 160)) if analyze else now - SECOND * 40
            with runtime.transaction() as session:
                write(session, restaurant_id, count, at)
                done = batches.seal_restaurant(session, restaurant_id, at)
                assert done is not None
                job = {"enqueued_at": at, "created_at": at, "updated_at": at}
                if analyze:
                    finished = at + dt.timedelta(seconds=rng.randint(2, 40))
                    folding.fold_batch(session, done.batch_id, now=finished)
                    job.update(
                        status="succeeded",
                        attempts=1,
                        progress_done=count,
                        progress_total=count,
                        progress_step="folded",
                        started_at=at + dt.timedelta(seconds=1),
                        finished_at=finished,
                        updated_at=finished,
                    )
                session.execute(update(Job).where(Job.id == done.job.id).values(**job))
        if waiting:
            with runtime.transaction() as session:
                write(session, restaurant_id, waiting, now - SECOND * 20, spread_s=180)


def seed_processes(runtime: Runtime) -> None:
    """What running processes leave in Redis: broker heartbeats of two workers, a web
    process and the scheduler, and the cache counters they publish."""
    import json
    import time

    ns = runtime.settings.redis_namespace
    now_ms = int(time.time() * 1000)
    beats = {f"{uuid.UUID(int=n)}": now_ms - 400 * n for n in range(1, 5)}
    runtime.redis.zadd(f"{ns}:__heartbeats__", beats)
    counts = {"local_hits": 9120, "local_misses": 880, "redis_hits": 790, "redis_misses": 90}
    runtime.redis.hset(
        f"{ns}:metrics:cache", "worker-1:42", json.dumps({"at": time.time(), "counts": counts})
    )


def seed_everything(runtime: Runtime, now: dt.datetime, key_prefix: str) -> None:
    """All of the above."""
    seed_processes(runtime)
    seed_restaurants(runtime, now)
    seed_jobs(runtime, now)
    seed_dead_letters(runtime, now)
    seed_breaker(runtime)
    seed_audit(runtime, key_prefix, now)
    seed_batches(runtime, now)
