"""Read-through: local tier, then Redis, then the loader — once per key, whoever asks."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable

import pytest
import redis

from cache.base import MISSING
from cache.single_flight import LoadLock, lock_key
from cache.two_tier import TwoTierCache
from tests.cache.conftest import LOCAL_TTL_MS, CountingLoader, FakeClock
from tests.support.threads import at_once
from tests.support.waiting import wait_until


@pytest.fixture
def key(keys) -> str:
    return keys.categories("m1")


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    return bool(wait_until(predicate, timeout, interval=0.005))


def run_threads(count: int, target: Callable[[], object]) -> list[object]:
    return at_once([target] * count)


def test_a_miss_calls_the_loader_and_stores_the_value_in_redis_with_its_ttl(
    cache: TwoTierCache, redis_client: redis.Redis, key: str
) -> None:
    loader = CountingLoader()

    value = cache.get_or_load(key, loader, ttl_ms=180_000)

    assert value == loader.value
    assert loader.calls == 1
    assert json.loads(redis_client.get(key)) == loader.value
    assert 170_000 < redis_client.pttl(key) <= 180_000
    assert not redis_client.exists(lock_key(key))


def test_a_second_read_is_a_local_hit_without_redis_or_loader(
    cache: TwoTierCache, redis_client: redis.Redis, key: str
) -> None:
    loader = CountingLoader()
    cache.get_or_load(key, loader, ttl_ms=180_000)
    redis_client.delete(key)  # only the local tier can answer now

    assert cache.get_or_load(key, loader, ttl_ms=180_000) == loader.value
    assert loader.calls == 1
    assert cache.stats.snapshot()["local_hits"] == 1


def test_after_the_local_ttl_redis_answers_without_the_loader(
    cache: TwoTierCache, clock: FakeClock, key: str
) -> None:
    loader = CountingLoader()
    cache.get_or_load(key, loader, ttl_ms=180_000)
    clock.advance(LOCAL_TTL_MS / 1000 + 1)

    assert cache.get_or_load(key, loader, ttl_ms=180_000) == loader.value
    assert loader.calls == 1
    counts = cache.stats.snapshot()
    assert (counts["local_misses"], counts["redis_hits"], counts["loads"]) == (2, 1, 1)


def test_a_value_copied_from_redis_lives_locally_no_longer_than_in_redis(
    cache: TwoTierCache, redis_client: redis.Redis, clock: FakeClock, key: str
) -> None:
    redis_client.set(key, json.dumps(["soon stale"]), px=2_000)
    assert cache.peek(key) == ["soon stale"]

    clock.advance(2.5)  # well inside the local TTL of 30 s

    assert cache.local.get(key) is MISSING


def test_after_the_redis_ttl_the_loader_runs_again(
    make_cache: Callable[..., TwoTierCache], key: str
) -> None:
    cache = make_cache(local_ttl_ms=0)
    loader = CountingLoader()
    cache.get_or_load(key, loader, ttl_ms=50)

    assert cache.remote.get(key) is not MISSING
    assert wait_for(lambda: cache.remote.get(key) is MISSING)
    cache.get_or_load(key, loader, ttl_ms=50)

    assert loader.calls == 2


def test_remaining_lives_of_several_keys_come_back_in_order_none_for_absent_ones(
    cache: TwoTierCache, redis_client: redis.Redis, keys
) -> None:
    cache.set(keys.categories("m1"), ["x"], ttl_ms=60_000)
    redis_client.set(keys.branches("m1"), "[]")  # stored without a TTL by someone else

    lives = cache.remaining_ttls_ms(
        [keys.categories("m1"), keys.categories("m2"), keys.branches("m1")]
    )

    assert lives[1:] == [None, -1]
    assert lives[0] is not None
    assert 50_000 < lives[0] <= 60_000


def test_peek_never_calls_a_loader_and_answers_none_on_a_miss(
    cache: TwoTierCache, key: str
) -> None:
    assert cache.peek(key) is None
    cache.set(key, ["x"], ttl_ms=10_000)
    assert cache.peek(key) == ["x"]


def all_missed(cache: TwoTierCache, count: int) -> Callable[[], None]:
    """Return a loader prelude that holds the load until `count` callers missed locally."""

    def wait() -> None:
        assert wait_for(lambda: cache.stats.snapshot()["local_misses"] >= count)

    return wait


def test_twenty_threads_asking_for_a_cold_key_share_one_load(cache: TwoTierCache, key: str) -> None:
    loader = CountingLoader(before=all_missed(cache, 20))

    results = run_threads(20, lambda: cache.get_or_load(key, loader, ttl_ms=10_000))

    assert loader.calls == 1
    assert results == [loader.value] * 20
    assert cache.stats.snapshot()["joined_loads"] == 19


def test_a_failing_load_fails_every_waiting_thread_and_caches_nothing(
    cache: TwoTierCache, redis_client: redis.Redis, key: str
) -> None:
    hold = all_missed(cache, 5)

    def failing() -> list[str]:
        hold()
        raise RuntimeError("upstream said no")

    results = run_threads(5, lambda: cache.get_or_load(key, failing, ttl_ms=10_000))

    assert all(isinstance(r, RuntimeError) for r in results)
    assert not redis_client.exists(key)
    assert not redis_client.exists(lock_key(key))
    assert cache.get_or_load(key, CountingLoader(["ok"]), ttl_ms=10_000) == ["ok"]
    assert cache.stats.snapshot()["load_errors"] == 1


def test_while_another_process_loads_a_waiter_reads_its_result_instead_of_loading(
    cache: TwoTierCache, redis_client: redis.Redis, key: str
) -> None:
    redis_client.set(lock_key(key), "another-process", px=10_000)
    loader = CountingLoader(["mine"])
    results: list[object] = []
    waiter = threading.Thread(
        target=lambda: results.append(cache.get_or_load(key, loader, ttl_ms=10_000))
    )
    waiter.start()
    assert wait_for(lambda: cache.stats.snapshot()["redis_misses"] == 1)

    # The other process finishes: it writes the value and lets go of the lock.
    redis_client.set(key, json.dumps(["theirs"]), px=10_000)
    redis_client.delete(lock_key(key))
    waiter.join(5)

    assert results == [["theirs"]]
    assert loader.calls == 0
    assert cache.stats.snapshot()["shared_loads"] == 1


def finish_other_load_after_read(
    cache: TwoTierCache, redis_client: redis.Redis, key: str, read_number: int
) -> None:
    """Make another process's load (lock held now) store its value right after this
    cache's `read_number`-th read of `key` from Redis: the tightest interleaving."""
    token = "another-process"
    redis_client.set(lock_key(key), token, px=10_000)
    lock = LoadLock(redis_client, 10_000)
    read = cache.remote.get_with_ttl
    reads = itertools.count(1)

    def read_then_other_finishes(asked: str) -> tuple[object, int]:
        found = read(asked)
        if next(reads) == read_number:
            assert lock.publish(key, ["theirs"], 10_000, token)
        return found

    cache.remote.get_with_ttl = read_then_other_finishes  # type: ignore[method-assign]


def test_a_waiter_polling_as_the_other_process_stores_its_value_does_not_load_again(
    cache: TwoTierCache, redis_client: redis.Redis, key: str
) -> None:
    finish_other_load_after_read(cache, redis_client, key, read_number=2)  # its first poll
    loader = CountingLoader(["mine"])

    assert cache.get_or_load(key, loader, ttl_ms=10_000) == ["theirs"]
    assert loader.calls == 0


def test_a_reader_taking_the_lock_just_after_the_other_process_stored_its_value_uses_it(
    cache: TwoTierCache, redis_client: redis.Redis, key: str
) -> None:
    # Its first read misses; the other process stores and unlocks before it takes the lock.
    finish_other_load_after_read(cache, redis_client, key, read_number=1)
    loader = CountingLoader(["mine"])

    assert cache.get_or_load(key, loader, ttl_ms=10_000) == ["theirs"]
    assert loader.calls == 0
    assert not redis_client.exists(lock_key(key))


def test_when_the_other_loader_gives_up_a_waiter_takes_over(
    cache: TwoTierCache, redis_client: redis.Redis, key: str
) -> None:
    redis_client.set(lock_key(key), "another-process", px=10_000)
    loader = CountingLoader(["mine"])
    threading.Timer(0.1, lambda: redis_client.delete(lock_key(key))).start()

    assert cache.get_or_load(key, loader, ttl_ms=10_000) == ["mine"]
    assert loader.calls == 1
    assert json.loads(redis_client.get(key)) == ["mine"]


def test_a_waiter_stops_waiting_after_its_bound_and_loads_itself(
    make_cache: Callable[..., TwoTierCache],
    redis_client: redis.Redis,
    key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = make_cache(max_wait_ms=200)
    redis_client.set(lock_key(key), "a-stuck-process", px=60_000)
    loader = CountingLoader(["mine"])

    with caplog.at_level(logging.WARNING, logger="cache.two_tier"):
        value = cache.get_or_load(key, loader, ttl_ms=10_000)

    assert value == ["mine"]
    assert loader.calls == 1
    assert "loading it here" in caplog.text
    assert json.loads(redis_client.get(key)) == ["mine"]


def test_a_load_that_raced_a_purge_is_returned_but_not_cached(
    cache: TwoTierCache, redis_client: redis.Redis, keys, key: str
) -> None:
    loader = CountingLoader(before=lambda: cache.purge_prefix(keys.merchant_prefix("m1")))

    value = cache.get_or_load(key, loader, ttl_ms=10_000)

    assert value == loader.value
    assert not redis_client.exists(key)
    assert cache.local.get(key) is MISSING


def test_values_round_trip_through_redis_as_json_with_arabic_intact(
    cache: TwoTierCache, redis_client: redis.Redis, clock: FakeClock, key: str
) -> None:
    value = [{"id": "c1", "name": "مشويات", "price": "25.50", "available": True, "n": None}]
    cache.set(key, value, ttl_ms=10_000)
    clock.advance(LOCAL_TTL_MS)

    assert cache.peek(key) == value
    assert "مشويات".encode() in redis_client.get(key)


def test_counters_start_at_zero_and_report_hit_rates(cache: TwoTierCache, key: str) -> None:
    assert set(cache.stats.snapshot().values()) == {0}
    assert cache.stats.hit_rate("local") is None

    cache.get_or_load(key, CountingLoader(), ttl_ms=10_000)
    cache.get_or_load(key, CountingLoader(), ttl_ms=10_000)
    cache.get_or_load(key, CountingLoader(), ttl_ms=10_000)

    assert cache.stats.hit_rate("local") == pytest.approx(2 / 3)
    assert cache.stats.hit_rate("redis") == 0.0


def test_a_value_that_is_not_json_raises_and_frees_the_lock_for_others(
    cache: TwoTierCache, redis_client: redis.Redis, key: str
) -> None:
    with pytest.raises(TypeError):
        cache.get_or_load(key, CountingLoader({"when": object()}), ttl_ms=10_000)

    assert not redis_client.exists(lock_key(key))
    assert not redis_client.exists(key)
