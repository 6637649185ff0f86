"""The catalog API over real HTTP (the localdev stand-in), real Redis, short timeouts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine

from bot.runtime import Runtime
from catalog.breaker import CircuitBreaker
from catalog.client import CatalogClient
from localdev.catalog_server import Catalog, CatalogServer, Merchant
from store.redis import Keys
from store.settings import Settings

API_KEY = "test-catalog-key"


def small_merchant() -> Merchant:
    """Return a merchant whose lists fit in one page: one request per resource."""
    return Merchant(
        categories=[
            {"id": "c1", "name": "Grills / مشويات"},
            {"id": "c2", "name": "Drinks / مشروبات"},
            {"id": "c3", "name": "Desserts / حلويات"},
        ],
        branches=[
            {"id": "b1", "name": "Olaya / العليا", "address": "Riyadh", "hours": "12-24"},
            {"id": "b2", "name": "Tahlia / التحلية", "address": "Jeddah", "hours": "13-02"},
        ],
        products={
            "c1": [
                {"id": "p1", "name": "Kebab / كباب", "price": 42, "currency": "SAR"},
                {"id": "p2", "name": "Tawook / طاووق", "price": "38.5", "currency": "SAR"},
                {"id": "p3", "name": "Kofta / كفتة", "price": 25.5, "currency": "SAR"},
            ],
            "c2": [{"id": "p4", "name": "Laban / لبن", "price": "4.50", "currency": "SAR"}],
        },
    )


@pytest.fixture
def small_catalog() -> Iterator[CatalogServer]:
    with CatalogServer(Catalog({"m1": small_merchant()}), api_key=API_KEY) as server:
        yield server


@pytest.fixture
def catalog_settings(settings: Settings, small_catalog: CatalogServer) -> Settings:
    # A cooldown no slow test run outlasts between opening and asserting "open".
    return settings.replace(
        sufrah_api_base=small_catalog.url,
        catalog_breaker_failures=3,
        catalog_breaker_cooldown_ms=5_000,
    )


@pytest.fixture
def client(small_catalog: CatalogServer) -> Iterator[CatalogClient]:
    current = CatalogClient(small_catalog.url, API_KEY, read_timeout=1.0)
    yield current
    current.close()


@pytest.fixture
def breaker(redis_client: redis.Redis, settings: Settings) -> CircuitBreaker:
    """A breaker that stays open longer than any test waits (assert "open" safely)."""
    return CircuitBreaker(
        redis_client, Keys(settings.redis_namespace), failure_threshold=3, cooldown_ms=5_000
    )


@pytest.fixture
def short_breaker(redis_client: redis.Redis, settings: Settings) -> CircuitBreaker:
    """The same breaker (same keys) opening for 300 ms only: for half-open tests."""
    return CircuitBreaker(
        redis_client, Keys(settings.redis_namespace), failure_threshold=3, cooldown_ms=300
    )


@pytest.fixture
def catalog_runtime(catalog_settings: Settings, engine: Engine) -> Iterator[Runtime]:
    """A runtime of this process on the stand-in catalog (its database is not used)."""
    current = Runtime(catalog_settings, engine=engine)
    yield current
    current.close_clients()
