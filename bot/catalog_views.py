"""The catalog as the conversation flow reads it (`flow.CatalogView`).

`CachedCatalog` answers from the cache only and says None on a miss: the webhook uses it
and hands a miss to a worker. `LoadingCatalog` reads through the cache to the catalog API
and raises `CatalogError` when it cannot: workers use it, and retry on a retryable error.
"""

from __future__ import annotations

from typing import Any

from catalog.reader import CatalogReader

Items = list[dict[str, Any]]


class CachedCatalog:
    """Catalog data already in the cache (local tier or Redis); never calls the API."""

    def __init__(self, reader: CatalogReader) -> None:
        self.reader = reader

    def categories(self, merchant_id: str) -> Items | None:
        return self.reader.peek_categories(merchant_id)

    def branches(self, merchant_id: str) -> Items | None:
        return self.reader.peek_branches(merchant_id)

    def products(self, merchant_id: str, category_id: str) -> Items | None:
        return self.reader.peek_products(merchant_id, category_id)


class LoadingCatalog:
    """Catalog data through the cache, fetched from the API on a miss (raises CatalogError)."""

    def __init__(self, reader: CatalogReader) -> None:
        self.reader = reader

    def categories(self, merchant_id: str) -> Items | None:
        return self.reader.categories(merchant_id)

    def branches(self, merchant_id: str) -> Items | None:
        return self.reader.branches(merchant_id)

    def products(self, merchant_id: str, category_id: str) -> Items | None:
        return self.reader.products(merchant_id, category_id)
