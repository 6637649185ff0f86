"""The welcome bootstrap across two real worker processes (SPEC §5.1, §5.5).

Each test starts two `python -m actors.run_worker … actors.worker` services (the Procfile's
worker) on the run's Redis, database and stand-ins, so single-flight and the limits are
shared only through Redis, as in production.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from localdev.catalog_server import synthetic_merchant
from tests.support import factories
from tests.support.bootstrap import bootstrap_payload, count, send_bootstrap, wait_for_jobs
from tests.support.processes import process_env, service, worker_command
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

WELCOME_SID = "HX" + "7" * 32
DONE = "welcome bootstrap done"


@pytest.fixture
def worker_env(settings, live_runtime, broker, fake_catalog, fake_twilio):
    """The environment of a worker process of this run (catalog and Twilio stand-ins)."""
    from actors.context import use_runtime

    use_runtime(live_runtime)  # the test process enqueues on the run's broker
    yield process_env(
        settings,
        SUFRAH_API_BASE=fake_catalog.url,
        SUFRAH_API_KEY=settings.sufrah_api_key or "",
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_API_BASE_URL=fake_twilio.url,
        CATALOG_BREAKER_COOLDOWN_MS=str(settings.catalog_breaker_cooldown_ms),
    )
    use_runtime(None)


@contextmanager
def two_workers(
    env: dict[str, str], tmp_path: Path, threads: int, **extra: str
) -> Iterator[list[Path]]:
    """Run two worker services of `threads` threads each; yield their log files.

    An idle Dramatiq consumer polls Redis every 0.5–1 s; at 0.1 s, neither worker can
    sleep through a burst while the other, holding at most `2 × threads` messages, runs.
    """
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    command = worker_command("bootstrap", threads=threads, actors="actors.worker")
    env = {**env, "dramatiq_worker_timeout": "100", **extra}
    with ExitStack() as stack:
        for log in logs:
            stack.enter_context(service(command, env, log))
        for log in logs:
            ready = wait_until(lambda log=log: "ready for action" in log.read_text(), timeout=60)
            assert ready, log.read_text()[-3000:]
        yield logs


def bootstraps_logged(log: Path) -> int:
    return log.read_text(encoding="utf-8", errors="replace").count(DONE)


@pytest.fixture
def restaurant(live_runtime, settings):
    with live_runtime.transaction() as session:
        return factories.restaurant(session, settings, welcome_content_sid=WELCOME_SID)


def test_twenty_new_customers_at_once_cost_one_upstream_request_per_page_across_two_workers(
    worker_env, live_runtime, restaurant, fake_catalog, fake_twilio, tmp_path
):
    # Every job is let through the limits at once, so all twenty meet the cold cache.
    with two_workers(worker_env, tmp_path, threads=4, BOOTSTRAP_CONCURRENCY="20") as logs:
        live_runtime.catalog.categories("demo-merchant")  # warm, then purged: a cold start
        live_runtime.catalog.branches("demo-merchant")
        live_runtime.catalog.purge("demo-merchant")
        fake_catalog.clear_requests()
        fake_twilio.clear()
        # Slow enough that both workers have taken messages while the first load runs.
        fake_catalog.latency = 0.6
        for n in range(20):
            send_bootstrap(**bootstrap_payload(restaurant, f"+9665200000{n:02d}"))
        jobs = wait_for_jobs(
            live_runtime, lambda found: len(found) == 20 and count(found, "succeeded") == 20, 40
        )
        done_by = [bootstraps_logged(log) for log in logs]
    assert all(job.attempts == 1 for job in jobs)
    assert sorted(request.target for request in fake_catalog.requests) == [
        "/merchants/demo-merchant/branches",
        "/merchants/demo-merchant/categories",
        "/merchants/demo-merchant/categories?page=2",
    ]
    assert [request.path for request in fake_twilio.requests] == [f"/v1/Content/{WELCOME_SID}"]
    assert sum(done_by) == 20
    assert all(done_by), f"both workers ran bootstraps: {done_by}"


def test_starts_per_merchant_stay_within_the_rate_limit_across_two_workers(
    worker_env, live_runtime, restaurant, fake_catalog, tmp_path
):
    # A 1 ms cache TTL: every bootstrap finds the data stale and needs a start.
    limits = {"BOOTSTRAP_RATE_PER_MINUTE": "3", "SUFRAH_CACHE_TTL_MS": "1"}
    with two_workers(worker_env, tmp_path, threads=4, **limits):
        for n in range(7):
            send_bootstrap(**bootstrap_payload(restaurant, f"+9665300000{n:02d}"))
        # Three start and finish; the other four are picked up and put back to wait.
        wait_for_jobs(
            live_runtime,
            lambda found: len(found) == 7 and count(found, "succeeded") == 3,
            timeout=30,
        )
        # Longer than a concurrency postponement (≤ 1 s) and its pick-up: had the rate
        # limit let one of the four through, it would have finished meanwhile.
        time.sleep(2.5)
        jobs = wait_for_jobs(live_runtime, lambda found: len(found) == 7)
    started = [job for job in jobs if job.status == "succeeded"]
    waiting = [job for job in jobs if job.status != "succeeded"]
    assert len(started) == 3
    assert all(job.result["cacheHits"] == 0 for job in started)  # each one fetched
    assert [(job.status, job.attempts) for job in waiting] == [("queued", 0)] * 4


def test_no_more_bootstraps_run_at_once_than_the_concurrency_limit_and_the_rest_run_later(
    worker_env, live_runtime, settings, fake_catalog, tmp_path
):
    merchants = [f"m{n}" for n in range(8)]
    with live_runtime.transaction() as session:
        restaurants = [
            factories.restaurant(session, settings, merchant_id=merchant) for merchant in merchants
        ]
    for merchant in merchants:
        fake_catalog.catalog.set_merchant(merchant, synthetic_merchant(5, 3))
    latency = fake_catalog.latency = 0.25
    with two_workers(
        worker_env, tmp_path, threads=2, BOOTSTRAP_CONCURRENCY="2", LOG_LEVEL="DEBUG"
    ) as logs:
        for restaurant in restaurants:
            send_bootstrap(**bootstrap_payload(restaurant, "+966540000001"))
        jobs = wait_for_jobs(
            live_runtime, lambda found: len(found) == 8 and count(found, "succeeded") == 8, 40
        )
        texts = [log.read_text(encoding="utf-8", errors="replace") for log in logs]
    # Each job's upstream calls, as the catalog saw them: from its first request arriving
    # until its last one was answered. Overlapping spans ran at the same time.
    spans = []
    for merchant in merchants:
        times = [
            r.received_monotonic
            for r in fake_catalog.requests
            if r.path.startswith(f"/merchants/{merchant}/")
        ]
        assert len(times) == 2  # categories and branches, one page each
        spans.append((min(times), max(times) + latency))
    assert peak_overlap(spans) <= 2
    assert all(job.attempts == 1 for job in jobs)  # waiting for a slot is not an attempt
    # Both workers competed for the two slots (a worker whose threads free a slot often
    # takes it again at once, so one of them may have run every job).
    refused = [text.count("bootstrap concurrency limit") for text in texts]
    assert all(DONE in text or refusals for text, refusals in zip(texts, refused, strict=True))
    assert sum(refused) > 0


def peak_overlap(spans: list[tuple[float, float]]) -> int:
    """Return the most spans that cover one instant."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak
