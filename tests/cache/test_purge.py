"""Purging a prefix: gone from Redis, from this process's tier and from every other's."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from cache.base import MISSING
from cache.keys import CacheKeys
from cache.two_tier import TwoTierCache
from store.redis import Keys, make_redis
from store.settings import Settings
from tests.support.waiting import wait_until


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    return bool(wait_until(predicate, timeout, interval=0.005))


def fill(cache: TwoTierCache, keys: CacheKeys, merchant: str) -> list[str]:
    written = [
        keys.categories(merchant),
        keys.branches(merchant),
        keys.products(merchant, "c1"),
        keys.products(merchant, "c:2*"),
    ]
    for key in written:
        cache.set(key, [key], ttl_ms=60_000)
    return written


def test_a_purge_deletes_every_redis_key_of_the_merchant_and_nothing_else(
    cache: TwoTierCache, keys: CacheKeys, redis_client: redis.Redis
) -> None:
    purged = fill(cache, keys, "m1")
    kept = [*fill(cache, keys, "m10"), keys.template("HX123")]
    cache.set(keys.template("HX123"), {"sid": "HX123"}, ttl_ms=60_000)
    other_namespace = CacheKeys(Keys("someone-else")).categories("m1")
    redis_client.set(other_namespace, "[]", px=60_000)
    try:
        report = cache.purge_prefix(keys.merchant_prefix("m1"))

        assert report.deleted == len(purged)
        assert redis_client.exists(*purged) == 0
        assert redis_client.exists(*kept) == len(kept)
        assert redis_client.exists(other_namespace)
    finally:
        redis_client.delete(other_namespace)


def test_a_purge_drops_the_merchant_from_every_cache_sharing_redis_within_a_second(
    make_cache: Callable[..., TwoTierCache], keys: CacheKeys
) -> None:
    here, there = make_cache(), make_cache()
    fill(here, keys, "m1")
    written = fill(there, keys, "m1")
    kept = fill(there, keys, "m2")
    assert there.listener.subscribed.wait(5)

    report = here.purge_prefix(keys.merchant_prefix("m1"))

    assert report.notified >= 2  # both listeners
    assert wait_for(lambda: all(there.local.get(k) is MISSING for k in written), timeout=1.0)
    assert all(there.local.get(k) is not MISSING for k in kept)


def test_deleting_one_key_reaches_every_process_too(
    make_cache: Callable[..., TwoTierCache], keys: CacheKeys
) -> None:
    here, there = make_cache(), make_cache()
    there.set(keys.template("HX1"), {"sid": "HX1"}, ttl_ms=60_000)
    there.set(keys.template("HX2"), {"sid": "HX2"}, ttl_ms=60_000)
    assert there.listener.subscribed.wait(5)

    here.delete(keys.template("HX1"))

    assert wait_for(lambda: there.local.get(keys.template("HX1")) is MISSING, timeout=1.0)
    assert there.peek(keys.template("HX2")) == {"sid": "HX2"}


def test_closing_the_cache_stops_its_listener_thread(
    make_cache: Callable[..., TwoTierCache], keys: CacheKeys
) -> None:
    cache = make_cache()
    cache.set(keys.categories("m1"), [], ttl_ms=1_000)
    assert cache.listener.running

    cache.close()

    assert not cache.listener.running


@pytest.fixture
def own_client(settings: Settings) -> Iterator[redis.Redis]:
    client = make_redis(settings.require_redis_url())
    yield client
    client.close()


def test_the_purge_listener_survives_its_connection_closing_under_it(
    own_client: redis.Redis, make_cache: Callable[..., TwoTierCache], keys: CacheKeys
) -> None:
    here, there = make_cache(own_client), make_cache()
    key = keys.categories("m1")
    here.set(key, ["x"], ttl_ms=60_000)
    assert here.listener.subscribed.wait(5)

    own_client.connection_pool.disconnect()  # its pub/sub socket closes under the thread

    def purge_arrives() -> bool:
        here.local.set(key, ["x"], 60_000)
        there.purge_prefix(keys.merchant_prefix("m1"))
        return wait_for(lambda: here.local.get(key) is MISSING, timeout=0.5)

    assert wait_for(purge_arrives, timeout=10)
    assert here.listener.running
