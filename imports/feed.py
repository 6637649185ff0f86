"""The catalog's orders endpoint as an import reads it: one page at a time, through the
orders breaker (never the menu's), with at most a pool's worth of requests at once."""

from __future__ import annotations

import datetime as dt
import threading

from catalog.breaker import CircuitBreaker
from catalog.client import CatalogClient, OrdersPage


class OrdersFeed:
    """Read pages of a merchant's orders.

    Parameters:
      client(CatalogClient): A client of its own (its connection pool is the imports').
      breaker(CircuitBreaker): The per-merchant breaker of the orders endpoint.
      connections(int): Requests in flight at once in this process, across its imports;
        the client's pool size, so a request waits here for its turn instead of timing
        out in the pool (which would count against the breaker).
    """

    def __init__(self, client: CatalogClient, breaker: CircuitBreaker, connections: int) -> None:
        self.client = client
        self.breaker = breaker
        self._slots = threading.BoundedSemaphore(connections)

    def first_url(self, merchant_id: str, since: dt.datetime, until: dt.datetime) -> str:
        """Return the URL of the first page of the merchant's orders in `[since, until)`.

        Raises:
          CatalogError: If the catalog API is not configured.
        """
        return self.client.orders_url(merchant_id, since, until)

    def page(self, merchant_id: str, url: str) -> OrdersPage:
        """Return the page at `url`.

        Raises:
          CatalogError: The page could not be read; `CatalogUnavailable` while the
            merchant's orders breaker is open (its `retry_after` is the cooldown left).
        """
        with self._slots:
            return self.breaker.call(merchant_id, lambda: self.client.orders_page(url))
