"""A two-tier cache on the run's Redis, with a clock the tests move by hand."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from cache.keys import CacheKeys
from cache.two_tier import TwoTierCache
from store.settings import Settings

LOCAL_TTL_MS = 30_000


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingLoader:
    """A loader that returns `value` and counts its calls (thread-safe enough: the GIL)."""

    def __init__(self, value: Any = None, before: Callable[[], object] | None = None) -> None:
        self.value = value if value is not None else [{"id": "c1", "name": "Grills / مشويات"}]
        self.before = before
        self._calls = itertools.count()
        self.calls = 0

    def __call__(self) -> Any:
        self.calls = next(self._calls) + 1
        if self.before is not None:
            self.before()
        return self.value


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys(settings: Settings) -> CacheKeys:
    return CacheKeys.for_namespace(settings.redis_namespace)


@pytest.fixture
def make_cache(
    redis_client: redis.Redis, keys: CacheKeys, clock: FakeClock
) -> Iterator[Callable[..., TwoTierCache]]:
    """Build caches sharing Redis (like processes would); all are closed after the test."""
    built: list[TwoTierCache] = []

    def make(client: redis.Redis | None = None, **options: Any) -> TwoTierCache:
        options.setdefault("local_ttl_ms", LOCAL_TTL_MS)
        options.setdefault("local_size", 100)
        options.setdefault("clock", clock)
        cache = TwoTierCache(client or redis_client, channel=keys.purge_channel(), **options)
        built.append(cache)
        return cache

    yield make
    for cache in built:
        cache.close()


@pytest.fixture
def cache(make_cache: Callable[..., TwoTierCache]) -> TwoTierCache:
    return make_cache()
