"""The per-merchant circuit breaker, its state in Redis, against the stand-in catalog."""

from __future__ import annotations

import logging
import threading

import pytest
import redis
from sqlalchemy import Engine

from bot.runtime import Runtime
from catalog.breaker import CircuitBreaker
from catalog.client import CatalogClient
from catalog.errors import CatalogError, CatalogUnavailable, ErrorKind
from localdev.catalog_server import CatalogServer
from localdev.embedded_redis import EmbeddedRedis
from store.redis import Keys, make_redis
from store.settings import Settings
from tests.support.catalog_child import CatalogChild
from tests.support.waiting import wait_until

CATEGORIES = "/merchants/m1/categories"


def fetch(breaker: CircuitBreaker, client: CatalogClient, merchant: str = "m1") -> list:
    return breaker.call(merchant, lambda: client.categories(merchant))


def fail_times(breaker: CircuitBreaker, client: CatalogClient, times: int) -> None:
    for _ in range(times):
        with pytest.raises(CatalogError):
            fetch(breaker, client)


def test_the_breaker_opens_after_the_configured_consecutive_failures(
    breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail(CATEGORIES, status=500)

    fail_times(breaker, client, 2)
    assert breaker.state("m1") == "closed"
    fail_times(breaker, client, 1)

    assert breaker.state("m1") == "open"
    assert small_catalog.request_count(CATEGORIES) == 3


def test_the_failure_that_opens_the_breaker_says_when_to_come_back(
    breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail(CATEGORIES, status=500)
    fail_times(breaker, client, 2)
    with pytest.raises(CatalogError) as opening:
        fetch(breaker, client)
    assert opening.value.status == 500  # the upstream's own error, not a fail-fast one
    assert opening.value.retry_after == breaker.cooldown_ms / 1000


def test_an_open_breaker_fails_fast_without_calling_upstream(
    breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail(CATEGORIES, status=503)
    fail_times(breaker, client, 3)
    small_catalog.clear_requests()

    with pytest.raises(CatalogUnavailable) as caught:
        fetch(breaker, client)

    assert small_catalog.request_count() == 0
    assert caught.value.retryable
    assert caught.value.kind is ErrorKind.CIRCUIT_OPEN
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 5


def test_the_breaker_is_per_merchant(
    breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail(CATEGORIES, status=500)
    fail_times(breaker, client, 3)

    assert breaker.state("m1") == "open"
    assert breaker.state("m2") == "closed"
    with pytest.raises(CatalogError) as caught:
        fetch(breaker, client, "m2")  # reaches upstream: m2 is unknown there
    assert caught.value.status == 404


def test_a_success_resets_the_count_of_consecutive_failures(
    breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail(CATEGORIES, status=500, times=2)
    fail_times(breaker, client, 2)
    fetch(breaker, client)
    small_catalog.fail(CATEGORIES, status=500, times=2)
    fail_times(breaker, client, 2)

    assert breaker.state("m1") == "closed"


def test_timeouts_and_dropped_connections_count_as_failures(
    breaker: CircuitBreaker, small_catalog: CatalogServer
) -> None:
    client = CatalogClient(small_catalog.url, "test-catalog-key", read_timeout=0.2)
    small_catalog.timeout(CATEGORIES, seconds=2, times=2)
    small_catalog.drop(CATEGORIES, times=1)
    try:
        fail_times(breaker, client, 3)
    finally:
        client.close()

    assert breaker.state("m1") == "open"


@pytest.mark.parametrize(
    ("status", "headers"), [(404, {}), (400, {}), (429, {"Retry-After": "1"}), (429, {})]
)
def test_4xx_answers_and_429_do_not_count_as_failures(
    breaker: CircuitBreaker,
    client: CatalogClient,
    small_catalog: CatalogServer,
    status: int,
    headers: dict[str, str],
) -> None:
    small_catalog.fail(CATEGORIES, status=status, headers=headers)

    fail_times(breaker, client, 6)

    assert breaker.state("m1") == "closed"
    assert small_catalog.request_count(CATEGORIES) == 6


def open_briefly(
    short_breaker: CircuitBreaker, client: CatalogClient, server: CatalogServer
) -> None:
    """Open the breaker with a 300 ms cooldown and wait until it is half-open."""
    server.fail(CATEGORIES, status=500, times=3)
    fail_times(short_breaker, client, 3)
    assert wait_until(lambda: short_breaker.state("m1") == "half_open")
    server.clear_requests()


def test_after_the_cooldown_exactly_one_of_many_simultaneous_calls_is_the_trial(
    short_breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    open_briefly(short_breaker, client, small_catalog)
    start = threading.Barrier(20)
    refused = threading.Semaphore(0)
    outcomes: list[str] = []

    def trial() -> list:
        # The trial goes upstream only once every other caller has been turned away.
        for _ in range(19):
            assert refused.acquire(timeout=5)
        return client.categories("m1")

    def call() -> None:
        start.wait()
        try:
            short_breaker.call("m1", trial)
            outcomes.append("called")
        except CatalogUnavailable:
            outcomes.append("refused")
            refused.release()

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["called"] + ["refused"] * 19
    assert small_catalog.request_count() == 1
    assert short_breaker.state("m1") == "closed"


def test_a_successful_trial_closes_the_breaker(
    short_breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    open_briefly(short_breaker, client, small_catalog)

    assert len(fetch(short_breaker, client)) == 3
    assert short_breaker.state("m1") == "closed"
    assert short_breaker.tripped() == {}


def test_a_failed_trial_opens_the_breaker_again_for_a_whole_cooldown(
    short_breaker: CircuitBreaker,
    breaker: CircuitBreaker,
    client: CatalogClient,
    small_catalog: CatalogServer,
) -> None:
    open_briefly(short_breaker, client, small_catalog)
    small_catalog.fail(CATEGORIES, status=500, times=1)

    fail_times(breaker, client, 1)  # the trial, by a breaker whose cooldown is 5 s

    assert breaker.state("m1") == "open"
    small_catalog.clear_requests()
    with pytest.raises(CatalogUnavailable) as caught:
        fetch(breaker, client)
    assert small_catalog.request_count() == 0
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 1


def test_a_trial_answered_429_leaves_the_breaker_half_open_for_the_next_trial(
    short_breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    open_briefly(short_breaker, client, small_catalog)
    small_catalog.fail(CATEGORIES, status=429, times=1)

    fail_times(short_breaker, client, 1)

    assert short_breaker.state("m1") == "half_open"
    assert len(fetch(short_breaker, client)) == 3
    assert short_breaker.state("m1") == "closed"


def test_tripped_lists_merchants_whose_breaker_is_open(
    breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail(CATEGORIES, status=500)
    fail_times(breaker, client, 3)

    assert breaker.tripped() == {"m1": "open"}
    breaker.reset("m1")
    assert breaker.tripped() == {}
    assert breaker.state("m1") == "closed"


def test_tripped_lists_half_open_breakers_too(
    short_breaker: CircuitBreaker, client: CatalogClient, small_catalog: CatalogServer
) -> None:
    open_briefly(short_breaker, client, small_catalog)

    assert short_breaker.tripped() == {"m1": "half_open"}


def test_a_second_process_sees_the_open_breaker_and_fails_fast(
    catalog_settings: Settings, small_catalog: CatalogServer, engine: Engine
) -> None:
    # A cooldown long enough for the child to start and ask while the breaker is open.
    settings = catalog_settings.replace(catalog_breaker_cooldown_ms=60_000)
    small_catalog.fail(CATEGORIES, status=500)
    runtime = Runtime(settings, engine=engine)
    try:
        for _ in range(3):
            with pytest.raises(CatalogError):
                runtime.catalog.categories("m1")
    finally:
        runtime.close_clients()
    small_catalog.clear_requests()

    with CatalogChild(settings) as child:
        state = child.ask("breaker_state", merchant="m1")
        answer = child.ask("categories", merchant="m1")

    assert state == {"value": "open"}
    assert answer == {"error": {"type": "CatalogUnavailable", "kind": "circuit_open"}}
    assert small_catalog.request_count() == 0


def test_with_redis_down_the_breaker_lets_calls_through_and_says_so(
    client: CatalogClient,
    small_catalog: CatalogServer,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with EmbeddedRedis() as server:
        connection = make_redis(server.url)
        breaker = CircuitBreaker(
            connection, Keys(settings.redis_namespace), failure_threshold=1, cooldown_ms=60_000
        )
        server.stop()
        try:
            with caplog.at_level(logging.WARNING, logger="catalog.breaker"):
                categories = fetch(breaker, client)
                small_catalog.fail(CATEGORIES, status=500, times=2)
                failures = []
                for _ in range(2):
                    with pytest.raises(CatalogError) as caught:
                        fetch(breaker, client)
                    failures.append(caught.value)
            with pytest.raises(redis.RedisError):
                breaker.state("m1")
        finally:
            connection.close()

    assert len(categories) == 3
    assert [error.status for error in failures] == [500, 500]  # the upstream's, not Redis's
    assert small_catalog.request_count(CATEGORIES) == 3
    assert "cannot reach Redis (calls proceed)" in caplog.text
