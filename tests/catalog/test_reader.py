"""The catalog as the app reads it: cache first, one upstream call per key, peeks, purge."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from bot.runtime import Runtime
from catalog.errors import CatalogError, CatalogUnavailable
from catalog.reader import CatalogReader
from localdev.catalog_server import CatalogServer
from localdev.embedded_redis import EmbeddedRedis
from store.settings import Settings
from tests.support.catalog_child import CatalogChild

CATEGORIES = "/merchants/m1/categories"


@pytest.fixture
def reader(catalog_runtime: Runtime) -> CatalogReader:
    return catalog_runtime.catalog


def test_categories_are_fetched_once_then_served_from_the_cache(
    reader: CatalogReader, small_catalog: CatalogServer
) -> None:
    first = reader.categories("m1")
    second = reader.categories("m1")

    assert [c["id"] for c in first] == ["c1", "c2", "c3"]
    assert second == first
    assert small_catalog.request_count() == 1


def test_each_resource_has_its_own_entry(
    reader: CatalogReader, small_catalog: CatalogServer
) -> None:
    reader.categories("m1")
    reader.branches("m1")
    reader.products("m1", "c1")
    reader.products("m1", "c2")

    assert [r.path for r in small_catalog.requests] == [
        "/merchants/m1/categories",
        "/merchants/m1/branches",
        "/merchants/m1/categories/c1/products",
        "/merchants/m1/categories/c2/products",
    ]


def test_cached_products_keep_prices_as_decimal_strings(reader: CatalogReader) -> None:
    reader.products("m1", "c1")
    reader.cache.local.clear()  # what another process would read from Redis

    assert [p["price"] for p in reader.peek_products("m1", "c1") or []] == ["42", "38.5", "25.5"]


def test_peeks_never_call_upstream_and_answer_none_on_a_miss(
    reader: CatalogReader, small_catalog: CatalogServer
) -> None:
    assert reader.peek_categories("m1") is None
    assert reader.peek_branches("m1") is None
    assert reader.peek_products("m1", "c1") is None
    assert small_catalog.request_count() == 0

    reader.branches("m1")

    assert [b["id"] for b in reader.peek_branches("m1") or []] == ["b1", "b2"]
    assert small_catalog.request_count() == 1


def test_freshness_follows_what_redis_holds(reader: CatalogReader, settings: Settings) -> None:
    assert not reader.is_fresh("m1", "categories")

    reader.categories("m1")

    assert reader.is_fresh("m1", "categories")
    assert not reader.is_fresh("m1", "branches")
    assert not reader.is_fresh("m1", "products", "c1")
    assert not reader.is_fresh(
        "m1", "categories", min_remaining_ms=settings.sufrah_cache_ttl_ms + 1
    )


def test_products_need_a_category_to_name_their_key(reader: CatalogReader) -> None:
    with pytest.raises(ValueError, match="unknown catalog resource"):
        reader.is_fresh("m1", "products")


def test_an_upstream_failure_is_raised_and_not_cached(
    reader: CatalogReader, small_catalog: CatalogServer
) -> None:
    small_catalog.fail(CATEGORIES, status=500, times=1)

    with pytest.raises(CatalogError):
        reader.categories("m1")

    assert len(reader.categories("m1")) == 3
    assert small_catalog.request_count() == 2


def test_reads_go_through_the_breaker(reader: CatalogReader, small_catalog: CatalogServer) -> None:
    small_catalog.fail(CATEGORIES, status=500)
    for _ in range(3):
        with pytest.raises(CatalogError):
            reader.categories("m1")
    small_catalog.clear_requests()

    with pytest.raises(CatalogUnavailable):
        reader.categories("m1")

    assert small_catalog.request_count() == 0


def test_a_cold_key_asked_by_twenty_threads_and_another_process_is_fetched_once(
    reader: CatalogReader, catalog_settings: Settings, small_catalog: CatalogServer
) -> None:
    small_catalog.latency = 0.5  # everyone asks while the first request is in flight
    start = threading.Barrier(21)
    results: list[object] = []

    def ask() -> None:
        start.wait()
        try:
            results.append(reader.categories("m1"))
        except BaseException as error:
            results.append(error)

    with CatalogChild(catalog_settings) as child:
        threads = [threading.Thread(target=ask) for _ in range(20)]
        for thread in threads:
            thread.start()
        child.send("categories", merchant="m1")
        start.wait()
        for thread in threads:
            thread.join()
        from_child = child.read()

    assert small_catalog.request_count() == 1
    assert len(results) == 20
    assert [c["id"] for c in results[0]] == ["c1", "c2", "c3"]  # type: ignore[attr-defined]
    assert all(result == results[0] for result in results)
    assert from_child == {"value": results[0]}


def test_a_purge_reaches_the_local_tier_of_another_process_within_a_second(
    reader: CatalogReader, catalog_settings: Settings, small_catalog: CatalogServer
) -> None:
    key = reader.keys.categories("m1")
    with CatalogChild(catalog_settings) as child:
        assert "value" in child.ask("categories", merchant="m1")
        assert child.ask("local_has", key=key) == {"value": True}
        reader.branches("m1")

        child.send("wait_local_gone", key=key, timeout=1.0)
        report = reader.purge("m1")
        gone = child.read()

    assert gone == {"value": True}
    assert report.deleted == 2
    assert report.notified >= 2  # the child's listener and ours
    assert reader.peek_categories("m1") is None
    assert reader.peek_branches("m1") is None


def test_with_redis_gone_mid_run_reads_still_reach_the_catalog_and_peeks_miss(
    catalog_settings: Settings, small_catalog: CatalogServer, engine: Engine
) -> None:
    with EmbeddedRedis() as private:
        runtime = Runtime(catalog_settings.replace(redis_url=private.url), engine=engine)
        try:
            assert len(runtime.catalog.categories("m1")) == 3
            private.stop()

            branches = runtime.catalog.branches("m1")  # breaker fails open, cache falls back
            peeked = runtime.catalog.peek_products("m1", "c1")
            fresh = runtime.catalog.is_fresh("m1", "branches")
            again = runtime.catalog.categories("m1")  # still in this process's tier
            counts = runtime.cache.stats.snapshot()
        finally:
            runtime.close_clients()

    assert [b["id"] for b in branches] == ["b1", "b2"]
    assert (peeked, fresh) == (None, False)
    assert len(again) == 3
    assert small_catalog.request_count("/merchants/m1/categories") == 1
    assert counts["redis_errors"] >= 2
