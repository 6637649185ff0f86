"""The catalog ("Sufrah") API client (SPEC §7): bearer auth, timeouts, every page of a list.

One `CatalogClient` per process holds one pooled `httpx.Client`, built on first use and
shared by every thread (httpx's client is thread-safe). The client never sleeps and never
retries: each failure is raised at once as a classified `CatalogError` (`catalog.errors`).
A 429 carries the `Retry-After` wait in `error.retry_after` (up to 60 s), so the caller —
a Dramatiq actor — reschedules its message for then instead of holding a worker thread
asleep; a longer or missing `Retry-After` leaves `retry_after` None: normal backoff.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import httpx

from catalog.errors import CatalogError, ErrorKind, error_for_response, error_for_transport
from catalog.prices import normalize_price
from store.settings import Settings
from store.timeutil import iso_z

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 5.0
# A list longer than this many pages is treated as an upstream bug, not followed forever.
MAX_PAGES = 200

Item = dict[str, Any]


@dataclass(frozen=True)
class OrdersPage:
    """One page of a merchant's orders (SPEC §13) and the absolute URL of the next, if any."""

    url: str
    orders: list[Item]
    next_url: str | None


class CatalogClient:
    """Read a merchant's categories, branches and products from the catalog API.

    Parameters:
      base_url(str): `SUFRAH_API_BASE`; when None every call raises a `not_configured` error.
      api_key(str): `SUFRAH_API_KEY`, sent as `Authorization: Bearer …`.
      connect_timeout(float): Seconds to establish a connection.
      read_timeout(float): Seconds to wait for each read of an answer.
      max_connections(int): Size of the shared connection pool.
      transport(httpx.BaseTransport): A transport to use instead of the network (rare tests).
    """

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
        max_connections: int = 32,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self._api_key = api_key
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout
        )
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._transport = transport
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, *, max_connections: int = 32) -> CatalogClient:
        """Return a client for `SUFRAH_API_BASE` with `SUFRAH_API_KEY`."""
        return cls(
            settings.sufrah_api_base, settings.sufrah_api_key, max_connections=max_connections
        )

    def categories(self, merchant_id: str) -> list[Item]:
        """Return the merchant's menu categories, in catalog order, from every page.

        Raises:
          CatalogError: If any page cannot be read.
        """
        return self._list(f"/merchants/{_segment(merchant_id)}/categories")

    def branches(self, merchant_id: str) -> list[Item]:
        """Return the merchant's branches from every page.

        Raises:
          CatalogError: If any page cannot be read.
        """
        return self._list(f"/merchants/{_segment(merchant_id)}/branches")

    def products(self, merchant_id: str, category_id: str) -> list[Item]:
        """Return a category's products, with `price` as a decimal string (None if unusable).

        Raises:
          CatalogError: If any page cannot be read.
        """
        path = f"/merchants/{_segment(merchant_id)}/categories/{_segment(category_id)}/products"
        products = []
        for item in self._list(path):
            price = normalize_price(item.get("price"))
            if price is None:
                logger.warning(
                    "catalog product %r of merchant %s has no usable price: %r",
                    item.get("id"),
                    merchant_id,
                    item.get("price"),
                )
            products.append({**item, "price": price})
        return products

    def orders_url(self, merchant_id: str, since: dt.datetime, until: dt.datetime) -> str:
        """Return the URL of the first page of the merchant's orders in `[since, until)`.

        Raises:
          CatalogError: If the catalog API is not configured.
        """
        query = urlencode({"since": iso_z(since), "until": iso_z(until)})
        return f"{self._require_base()}/merchants/{_segment(merchant_id)}/orders?{query}"

    def orders_page(self, url: str) -> OrdersPage:
        """Return one page of orders from `url` (a first page's, or a page's `next`).

        Pages are read one at a time so that the caller can store each before the next
        (an import resumes from the last page it stored). `url` must be on the API's origin.

        Raises:
          CatalogError: If the page cannot be read, or `next` leaves the API or loops.
        """
        base = self._require_base()
        if _origin(url) != _origin(base):
            raise CatalogError(
                f"catalog orders page {_display(url)} is not on the API's origin {_origin(base)}",
                kind=ErrorKind.NOT_CONFIGURED,
            )
        page = self._get_page(url)
        following = page.get("next")
        next_url = self._resolve_next(following, url) if following else None
        if next_url == url:
            raise CatalogError(
                f"catalog pagination of {_display(url)} loops back to itself",
                kind=ErrorKind.UPSTREAM_FAILURE,
            )
        return OrdersPage(url, page["data"], next_url)

    def close(self) -> None:
        """Close the pooled connections; later calls fail."""
        with self._lock:
            self._closed = True
            http, self._http = self._http, None
        if http is not None:
            http.close()

    # -- pagination --------------------------------------------------------------------

    def _list(self, path: str) -> list[Item]:
        base = self._require_base()
        url = base + path
        items: list[Item] = []
        seen = {url}
        for _ in range(MAX_PAGES):
            page = self._get_page(url)
            items.extend(page["data"])
            following = page.get("next")
            if not following:
                return items
            url = self._resolve_next(following, url)
            if url in seen:
                raise CatalogError(
                    f"catalog pagination of {path} loops back to {url}",
                    kind=ErrorKind.UPSTREAM_FAILURE,
                )
            seen.add(url)
        raise CatalogError(
            f"catalog list {path} has more than {MAX_PAGES} pages",
            kind=ErrorKind.UPSTREAM_FAILURE,
        )

    def _resolve_next(self, following: object, current: str) -> str:
        """Return the URL of the next page: absolute, a path under the base, or relative."""
        base = self._require_base()
        if not isinstance(following, str):
            raise CatalogError(
                f"catalog answered a non-string next {following!r}",
                kind=ErrorKind.UPSTREAM_FAILURE,
            )
        parts = urlsplit(following)
        if parts.scheme or parts.netloc:
            if _origin(following) != _origin(base):
                # Never send the API key to another host.
                raise CatalogError(
                    f"catalog next {following!r} leaves the API's origin {_origin(base)}",
                    kind=ErrorKind.NOT_CONFIGURED,
                )
            return following
        if following.startswith("/"):
            prefix = urlsplit(base).path.rstrip("/")
            if prefix and (following == prefix or following.startswith(prefix + "/")):
                return _origin(base) + following  # the path already carries the base's prefix
            return base + following
        return urljoin(current, following)

    def _get_page(self, url: str) -> dict[str, Any]:
        what = f"GET {_display(url)}"
        try:
            response = self._client().get(url)
        except httpx.TransportError as error:
            raise error_for_transport(error, what) from error
        if not response.is_success:
            raise error_for_response(response, what)
        try:
            page = response.json()
        except ValueError:
            page = None
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise CatalogError(
                f"catalog answered {response.status_code} to {what} without a data list",
                kind=ErrorKind.UPSTREAM_FAILURE,
                status=response.status_code,
            )
        page["data"] = [item for item in page["data"] if isinstance(item, dict)]
        return page

    def _client(self) -> httpx.Client:
        http = self._http
        if http is not None:
            return http
        with self._lock:
            if self._closed:
                raise RuntimeError("the catalog client is closed")
            if self._http is None:
                headers = {"Accept": "application/json", "User-Agent": "restaurant-bot"}
                if self._api_key:
                    headers["Authorization"] = f"Bearer {self._api_key}"
                self._http = httpx.Client(
                    headers=headers,
                    timeout=self._timeout,
                    limits=self._limits,
                    transport=self._transport,
                    follow_redirects=False,
                )
            return self._http

    def _require_base(self) -> str:
        if self.base_url is None:
            raise CatalogError(
                "the catalog API is not configured (SUFRAH_API_BASE)",
                kind=ErrorKind.NOT_CONFIGURED,
            )
        return self.base_url


def _segment(identifier: str) -> str:
    return quote(str(identifier), safe="")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _display(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
