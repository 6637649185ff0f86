"""The runtime builds the cache and catalog objects lazily, once, and closes them."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from bot.runtime import Runtime
from cache.two_tier import TwoTierCache
from catalog.reader import CatalogReader
from store.settings import Settings


def test_nothing_is_built_until_first_use(settings: Settings, engine: Engine) -> None:
    runtime = Runtime(settings, engine=engine)

    assert runtime._shared == {}
    assert "redis" not in runtime.__dict__
    runtime.close_clients()


def test_threads_racing_for_the_catalog_get_one_and_the_same_reader(
    settings: Settings, engine: Engine
) -> None:
    runtime = Runtime(settings, engine=engine)
    start = threading.Barrier(16)
    seen: list[CatalogReader] = []

    def get() -> None:
        start.wait()
        seen.append(runtime.catalog)

    threads = [threading.Thread(target=get) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(reader) for reader in seen}) == 1
    assert seen[0].cache is runtime.cache
    assert seen[0].breaker is runtime.catalog_breaker
    assert seen[0].client is runtime.catalog_client
    runtime.close_clients()


def test_closing_the_runtime_stops_the_purge_listener(settings: Settings, engine: Engine) -> None:
    runtime = Runtime(settings, engine=engine)
    cache: TwoTierCache = runtime.cache
    cache.set(runtime.keys("anything"), 1, ttl_ms=1_000)
    assert cache.listener.running

    runtime.close_clients()

    assert not cache.listener.running
