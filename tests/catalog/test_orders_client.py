"""The orders endpoint in the catalog client (SPEC §13): one page at a time, `next` kept on
the API's origin, the same error rules as every catalog call."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.client import CatalogClient
from catalog.errors import CatalogError, ErrorKind
from localdev.catalog_server import Catalog, CatalogServer, Merchant
from localdev.demo_orders import FixedOrders
from tests.catalog.conftest import API_KEY

SINCE = dt.datetime(2025, 10, 20, tzinfo=dt.UTC)
UNTIL = SINCE + dt.timedelta(days=1)


def orders(count: int) -> list[dict]:
    return [
        {
            "id": f"o{n}",
            "createdAt": f"2025-10-20T{n % 24:02d}:00:00.000Z",
            "total": "1",
            "currency": "SAR",
            "items": [],
        }
        for n in range(count)
    ]


@pytest.fixture
def server():
    merchants = {"m1": Merchant(orders=FixedOrders(orders(5)))}
    with CatalogServer(Catalog(merchants), api_key=API_KEY, orders_page_size=2) as running:
        yield running


@pytest.fixture
def client(server):
    current = CatalogClient(server.url, API_KEY, read_timeout=1.0)
    yield current
    current.close()


def test_the_pages_of_a_period_are_read_one_at_a_time_following_next(client, server):
    url = client.orders_url("m1", SINCE, UNTIL)
    assert url == (
        f"{server.url}/merchants/m1/orders"
        "?since=2025-10-20T00%3A00%3A00.000Z&until=2025-10-21T00%3A00%3A00.000Z"
    )
    seen, pages = [], 0
    while url:
        page = client.orders_page(url)
        seen += [order["id"] for order in page.orders]
        url, pages = page.next_url, pages + 1
    assert (seen, pages) == (["o0", "o1", "o2", "o3", "o4"], 3)
    assert all(r.query_params["until"] == "2025-10-21T00:00:00.000Z" for r in server.requests)


def test_a_page_off_the_apis_origin_is_refused_without_a_request(client, server):
    with pytest.raises(CatalogError) as error:
        client.orders_page("http://evil.test/orders")
    assert error.value.kind is ErrorKind.NOT_CONFIGURED
    assert server.request_count() == 0


@pytest.mark.parametrize(
    ("status", "kind"),
    [(503, ErrorKind.UPSTREAM_FAILURE), (429, ErrorKind.THROTTLED), (404, ErrorKind.REJECTED)],
)
def test_failures_are_classified_as_for_the_menu(client, server, status, kind):
    server.fail("/orders", status=status, times=1, headers={"Retry-After": "7"})
    with pytest.raises(CatalogError) as error:
        client.orders_page(client.orders_url("m1", SINCE, UNTIL))
    assert error.value.kind is kind
    if status == 429:
        assert error.value.retry_after == 7


def test_the_stand_in_refuses_a_window_without_times(client, server):
    with pytest.raises(CatalogError) as error:
        client.orders_page(f"{server.url}/merchants/m1/orders")
    assert (error.value.kind, error.value.status) == (ErrorKind.REJECTED, 400)
