"""The bootstrap's limits on the run's Redis: starts per merchant in any 60 s, leased slots."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from bot.limits import BootstrapLimits
from store.redis import Keys, make_redis
from store.settings import Settings


class FrozenClock:
    """Stands in for the `time` module of Dramatiq's window limiter."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    current = make_redis(settings.require_redis_url())
    yield current
    current.close()


@pytest.fixture
def limits(client: redis.Redis, settings: Settings) -> BootstrapLimits:
    keys = Keys(settings.redis_namespace)
    return BootstrapLimits(client, keys, concurrency=2, per_minute=3, lease_ms=300)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    import dramatiq.rate_limits.window as window

    frozen = FrozenClock(1_000.99)
    monkeypatch.setattr(window, "time", frozen)
    return frozen


def start(limits: BootstrapLimits, merchant: str = "m1") -> bool:
    with limits.starts(merchant).acquire(raise_on_failure=False) as admitted:
        return bool(admitted)


def test_no_more_starts_than_the_limit_in_any_60_seconds_even_across_a_bucket_edge(
    limits: BootstrapLimits, clock: FrozenClock
) -> None:
    assert [start(limits) for _ in range(4)] == [True, True, True, False]
    # 59.01 s later, in a new bucket: a 60-bucket window would already have let 3 more in.
    clock.now = 1_060.0
    assert not start(limits)
    clock.now = 1_061.0  # now more than 60 s after the first three
    assert [start(limits) for _ in range(4)] == [True, True, True, False]


def test_starts_are_counted_per_merchant(limits: BootstrapLimits, clock: FrozenClock) -> None:
    assert [start(limits, "m1") for _ in range(3)] == [True] * 3
    assert start(limits, "m2")
    assert not start(limits, "m1")


def test_threads_racing_for_starts_get_exactly_the_limit(limits: BootstrapLimits) -> None:
    admitted: list[bool] = []
    barrier = threading.Barrier(20)

    def race() -> None:
        barrier.wait()
        admitted.append(start(limits, "race"))

    threads = [threading.Thread(target=race) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 3


def test_a_slot_is_free_again_once_its_holder_releases_it(limits: BootstrapLimits) -> None:
    first, second, third = limits.running(), limits.running(), limits.running()
    with first.acquire(raise_on_failure=False) as a, second.acquire(raise_on_failure=False) as b:
        assert (a, b) == (True, True)
        with third.acquire(raise_on_failure=False) as c:
            assert not c
    with third.acquire(raise_on_failure=False) as c:
        assert c


def test_a_slot_held_by_a_holder_that_never_released_frees_when_its_lease_ends(
    limits: BootstrapLimits,
) -> None:
    # A killed worker never releases: acquire without the context manager's release.
    assert limits.running()._acquire()
    assert limits.running()._acquire()
    assert not limits.running()._acquire()
    time.sleep(0.35)  # the 300 ms leases are over
    assert limits.running()._acquire()
