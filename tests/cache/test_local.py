"""The in-process tier: TTL, size bound, purge generations, many threads."""

from __future__ import annotations

import random
import threading

from cache.base import MISSING
from cache.local import LocalTier
from tests.cache.conftest import FakeClock


def test_an_entry_lives_for_its_ttl_and_then_is_gone(clock: FakeClock) -> None:
    tier = LocalTier(ttl_ms=1000, size=10, clock=clock)
    tier.set("k", [1], ttl_ms=60_000)

    clock.advance(0.999)
    assert tier.get("k") == [1]
    clock.advance(0.002)
    assert tier.get("k") is MISSING


def test_an_entry_lives_no_longer_than_the_ttl_it_was_given(clock: FakeClock) -> None:
    tier = LocalTier(ttl_ms=30_000, size=10, clock=clock)
    tier.set("k", "v", ttl_ms=200)

    clock.advance(0.3)

    assert tier.get("k") is MISSING


def test_the_least_recently_used_entry_goes_when_the_tier_is_full(clock: FakeClock) -> None:
    tier = LocalTier(ttl_ms=30_000, size=2, clock=clock)
    tier.set("a", 1, 30_000)
    tier.set("b", 2, 30_000)
    tier.get("a")
    tier.set("c", 3, 30_000)

    assert (tier.get("a"), tier.get("b"), tier.get("c")) == (1, MISSING, 3)


def test_a_zero_ttl_disables_the_tier(clock: FakeClock) -> None:
    tier = LocalTier(ttl_ms=0, size=10, clock=clock)
    tier.set("k", "v", 30_000)

    assert tier.get("k") is MISSING


def test_a_none_value_is_an_entry_not_a_miss(clock: FakeClock) -> None:
    tier = LocalTier(ttl_ms=30_000, size=10, clock=clock)
    tier.set("k", None, 30_000)

    assert tier.get("k") is None


def test_purging_a_prefix_removes_only_the_keys_under_it(clock: FakeClock) -> None:
    tier = LocalTier(ttl_ms=30_000, size=10, clock=clock)
    for key in ("ns:catalog:m1:categories", "ns:catalog:m1:branches", "ns:catalog:m10:branches"):
        tier.set(key, key, 30_000)

    assert tier.purge_prefix("ns:catalog:m1:") == 2
    assert tier.get("ns:catalog:m10:branches") == "ns:catalog:m10:branches"
    assert len(tier) == 1


def test_a_value_read_before_a_purge_is_not_stored_after_it(clock: FakeClock) -> None:
    tier = LocalTier(ttl_ms=30_000, size=10, clock=clock)
    seen = tier.generation
    tier.purge_prefix("ns:catalog:m1:")

    tier.set("ns:catalog:m1:categories", "stale", 30_000, generation=seen)

    assert tier.get("ns:catalog:m1:categories") is MISSING


def test_many_threads_reading_writing_and_purging_at_once_leave_it_consistent() -> None:
    tier = LocalTier(ttl_ms=30_000, size=50)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(2000):
                key = f"k{rng.randrange(100)}"
                action = rng.random()
                if action < 0.5:
                    value = tier.get(key)
                    assert value is MISSING or value == key
                elif action < 0.95:
                    tier.set(key, key, 30_000)
                else:
                    tier.purge_prefix("k1")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(tier) <= 50
