"""Redis is an accelerator: when it goes away, reads load, writes are logged, nobody fails."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
import redis

from cache.base import MISSING, CacheUnavailable
from cache.keys import CacheKeys
from cache.two_tier import TwoTierCache
from localdev.embedded_redis import EmbeddedRedis
from store.redis import make_redis
from tests.cache.conftest import CountingLoader
from tests.support.waiting import wait_until


@pytest.fixture
def private_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def private_client(private_redis: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = make_redis(private_redis.url)
    yield client
    client.close()


@pytest.fixture
def outage_cache(
    private_client: redis.Redis, make_cache: Callable[..., TwoTierCache]
) -> TwoTierCache:
    # `private_client` first: set up before the caches, so closed after their listeners.
    return make_cache(private_client)


def test_with_redis_down_a_read_falls_back_to_the_loader_and_logs_it(
    outage_cache: TwoTierCache,
    private_redis: EmbeddedRedis,
    keys: CacheKeys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    private_redis.stop()
    loader = CountingLoader()

    with caplog.at_level(logging.WARNING, logger="cache.two_tier"):
        value = outage_cache.get_or_load(keys.branches("m1"), loader, ttl_ms=10_000)

    assert value == loader.value
    assert loader.calls == 1
    assert "read failed (Redis)" in caplog.text
    assert outage_cache.stats.snapshot()["redis_errors"] == 1
    # This process keeps what it loaded, so an outage does not send every read upstream.
    assert outage_cache.get_or_load(keys.branches("m1"), loader, ttl_ms=10_000) == loader.value
    assert loader.calls == 1


def test_redis_failing_during_the_write_is_logged_and_the_caller_gets_its_value(
    outage_cache: TwoTierCache,
    private_redis: EmbeddedRedis,
    keys: CacheKeys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    loader = CountingLoader(before=private_redis.stop)  # Redis dies while upstream answers

    with caplog.at_level(logging.WARNING, logger="cache.two_tier"):
        value = outage_cache.get_or_load(keys.categories("m1"), loader, ttl_ms=10_000)

    assert value == loader.value
    assert "write failed (Redis)" in caplog.text
    assert outage_cache.stats.snapshot()["write_errors"] == 1


def test_with_redis_down_set_reports_failure_and_peek_and_freshness_answer_miss(
    outage_cache: TwoTierCache, private_redis: EmbeddedRedis, keys: CacheKeys
) -> None:
    private_redis.stop()

    assert outage_cache.set(keys.categories("m1"), ["x"], ttl_ms=10_000) is False
    assert outage_cache.peek(keys.branches("m1")) is None
    assert outage_cache.remaining_ttl_ms(keys.categories("m1")) is None
    assert outage_cache.remaining_ttls_ms([keys.categories("m1"), keys.branches("m1")]) == [
        None,
        None,
    ]


def test_with_redis_down_a_purge_raises_cache_unavailable_after_purging_locally(
    outage_cache: TwoTierCache, private_redis: EmbeddedRedis, keys: CacheKeys
) -> None:
    outage_cache.set(keys.categories("m1"), ["x"], ttl_ms=10_000)
    private_redis.stop()

    with pytest.raises(CacheUnavailable, match="Redis is unreachable"):
        outage_cache.purge_prefix(keys.merchant_prefix("m1"))
    assert outage_cache.local.get(keys.categories("m1")) is MISSING


def test_the_purge_listener_clears_the_local_tier_when_it_reconnects(
    outage_cache: TwoTierCache, private_redis: EmbeddedRedis, keys: CacheKeys
) -> None:
    outage_cache.set(keys.categories("m1"), ["before"], ttl_ms=60_000)
    assert outage_cache.listener.subscribed.wait(5)
    private_redis.stop()
    assert wait_until_unsubscribed(outage_cache)  # it noticed the outage
    outage_cache.local.set(keys.categories("m1"), ["during"], 60_000)

    # Purges published while it was away are lost to it: it drops everything instead.
    with EmbeddedRedis(port=private_redis.port, directory=private_redis.directory):
        assert outage_cache.listener.subscribed.wait(5)
        assert outage_cache.local.get(keys.categories("m1")) is MISSING


def wait_until_unsubscribed(cache: TwoTierCache) -> bool:
    return bool(wait_until(lambda: not cache.listener.subscribed.is_set(), 5, interval=0.01))
