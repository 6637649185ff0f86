"""The catalog as the rest of the app sees it: cached, guarded by the breaker, shared.

- `categories`, `branches`, `products` read through the cache: local tier, Redis, then
  one upstream call per key across every process, through the merchant's breaker. For
  workers (bootstrap, reply actors): they may call the catalog API.
- `peek_*` read the cache only and never call upstream: the webhook answers from them on a
  hit and hands off to a worker on a miss (None).
- `is_fresh` says whether Redis still holds an entry, so a bootstrap can skip it.

Lists are shared with the cache: treat them as read-only.
"""

from __future__ import annotations

from typing import Any, Literal

from cache.keys import CacheKeys
from cache.two_tier import PurgeReport, TwoTierCache
from catalog.breaker import CircuitBreaker
from catalog.client import CatalogClient
from store.settings import Settings

Resource = Literal["categories", "branches", "products"]
Items = list[dict[str, Any]]


class CatalogReader:
    """Read a merchant's catalog through the two-tier cache and the circuit breaker.

    Parameters:
      cache(TwoTierCache): Where catalog data is kept (`SUFRAH_CACHE_TTL_MS` in Redis).
      client(CatalogClient): The catalog API.
      breaker(CircuitBreaker): The per-merchant breaker guarding the API.
      settings(Settings): For the namespace and the TTL.
    """

    def __init__(
        self,
        cache: TwoTierCache,
        client: CatalogClient,
        breaker: CircuitBreaker,
        settings: Settings,
    ) -> None:
        self.cache = cache
        self.client = client
        self.breaker = breaker
        self.keys = CacheKeys.for_namespace(settings.redis_namespace)
        self.ttl_ms = settings.sufrah_cache_ttl_ms

    def categories(self, merchant_id: str) -> Items:
        """Return the merchant's categories in catalog order, loading them on a miss.

        Raises:
          CatalogError: If they are not cached and the catalog API fails (or the breaker
            is open: `CatalogUnavailable`).
        """
        return self.cache.get_or_load(
            self.keys.categories(merchant_id),
            lambda: self.breaker.call(merchant_id, lambda: self.client.categories(merchant_id)),
            self.ttl_ms,
        )

    def branches(self, merchant_id: str) -> Items:
        """Return the merchant's branches, loading them on a miss.

        Raises:
          CatalogError: As for `categories`.
        """
        return self.cache.get_or_load(
            self.keys.branches(merchant_id),
            lambda: self.breaker.call(merchant_id, lambda: self.client.branches(merchant_id)),
            self.ttl_ms,
        )

    def products(self, merchant_id: str, category_id: str) -> Items:
        """Return one category's products (prices as decimal strings), loading on a miss.

        Raises:
          CatalogError: As for `categories`.
        """
        return self.cache.get_or_load(
            self.keys.products(merchant_id, category_id),
            lambda: self.breaker.call(
                merchant_id, lambda: self.client.products(merchant_id, category_id)
            ),
            self.ttl_ms,
        )

    def peek_categories(self, merchant_id: str) -> Items | None:
        """Return the cached categories, or None; never call the catalog API."""
        return self.cache.peek(self.keys.categories(merchant_id))

    def peek_branches(self, merchant_id: str) -> Items | None:
        """Return the cached branches, or None; never call the catalog API."""
        return self.cache.peek(self.keys.branches(merchant_id))

    def peek_products(self, merchant_id: str, category_id: str) -> Items | None:
        """Return the cached products of a category, or None; never call the catalog API."""
        return self.cache.peek(self.keys.products(merchant_id, category_id))

    def is_fresh(
        self,
        merchant_id: str,
        resource: Resource,
        category_id: str | None = None,
        *,
        min_remaining_ms: int = 0,
    ) -> bool:
        """Return True while Redis holds the entry for at least `min_remaining_ms` more.

        False when Redis is unreachable: the caller then fetches, as on a miss.
        """
        remaining = self.cache.remaining_ttl_ms(self.key(merchant_id, resource, category_id))
        return remaining is not None and (remaining < 0 or remaining >= min_remaining_ms)

    def key(self, merchant_id: str, resource: Resource, category_id: str | None = None) -> str:
        """Return the cache key of a merchant's resource (`products` needs `category_id`)."""
        if resource == "categories":
            return self.keys.categories(merchant_id)
        if resource == "branches":
            return self.keys.branches(merchant_id)
        if resource == "products" and category_id is not None:
            return self.keys.products(merchant_id, category_id)
        raise ValueError(f"unknown catalog resource {resource!r} (category {category_id!r})")

    def purge(self, merchant_id: str) -> PurgeReport:
        """Drop the merchant's cached catalog from Redis and every process's local tier.

        Raises:
          CacheUnavailable: If Redis cannot be reached.
        """
        return self.cache.purge_prefix(self.keys.merchant_prefix(merchant_id))
