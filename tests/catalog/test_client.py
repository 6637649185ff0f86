"""The catalog client against the stand-in over real HTTP: pages, errors, Retry-After."""

from __future__ import annotations

import email.utils
import pickle
import threading
import time

import httpx
import pytest

from catalog.client import CatalogClient
from catalog.errors import CatalogError, CatalogUnavailable, ErrorKind
from localdev.catalog_server import DEMO_MERCHANT_ID, CatalogServer, demo_catalog
from localdev.embedded_redis import free_port
from tests.catalog.conftest import API_KEY

DEMO = demo_catalog().get(DEMO_MERCHANT_ID)
assert DEMO is not None


def fetch_error(call) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("style", ["absolute", "path", "mixed"])
def test_every_page_is_followed_whatever_the_style_of_next(style: str) -> None:
    with CatalogServer(demo_catalog(), api_key=API_KEY, page_size=1, next_style=style) as server:  # type: ignore[arg-type]
        client = CatalogClient(server.url, API_KEY)
        try:
            categories = client.categories(DEMO_MERCHANT_ID)
        finally:
            client.close()
        pages = server.request_count(f"/merchants/{DEMO_MERCHANT_ID}/categories")

    assert [c["id"] for c in categories] == [c["id"] for c in DEMO.categories]
    assert pages == len(DEMO.categories) == 12


def test_every_request_carries_the_bearer_key(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    client.branches("m1")

    assert small_catalog.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_branches_and_products_of_a_small_merchant_come_back_whole(client: CatalogClient) -> None:
    branches = client.branches("m1")
    products = client.products("m1", "c1")

    assert [b["id"] for b in branches] == ["b1", "b2"]
    assert branches[0]["name"] == "Olaya / العليا"
    assert [p["id"] for p in products] == ["p1", "p2", "p3"]


def test_product_prices_become_decimal_strings_whether_sent_as_numbers_or_strings(
    client: CatalogClient,
) -> None:
    products = client.products("m1", "c1")

    assert [p["price"] for p in products] == ["42", "38.5", "25.5"]


def test_a_product_without_a_usable_price_keeps_its_place_with_price_none(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    merchant = small_catalog.catalog.get("m1")
    assert merchant is not None
    merchant.products["c3"] = [{"id": "p9", "name": "Mystery", "price": "ask the waiter"}]

    assert client.products("m1", "c3") == [{"id": "p9", "name": "Mystery", "price": None}]


def test_a_500_is_a_retryable_upstream_failure_that_trips_the_breaker(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail("/categories", status=503, body={"error": "maintenance"})

    error = fetch_error(lambda: client.categories("m1"))

    assert (error.kind, error.status, error.retryable, error.trips_breaker) == (
        ErrorKind.UPSTREAM_FAILURE,
        503,
        True,
        True,
    )
    assert "maintenance" in str(error)


def test_an_opaque_error_body_is_quoted_briefly_not_parsed(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    html = "<html>\n<body>" + "Bad Gateway " * 100 + "</body></html>"
    small_catalog.fail("/branches", status=502, body=html)

    error = fetch_error(lambda: client.branches("m1"))

    assert error.status == 502
    assert "\n" not in str(error)
    assert len(str(error)) < 300


def test_a_failure_on_a_later_page_fails_the_whole_list(small_catalog: CatalogServer) -> None:
    small_catalog.page_size = 1
    small_catalog.fail(r"page=3", status=500)
    client = CatalogClient(small_catalog.url, API_KEY)
    try:
        error = fetch_error(lambda: client.categories("m1"))
    finally:
        client.close()

    assert error.kind is ErrorKind.UPSTREAM_FAILURE
    assert small_catalog.request_count("/merchants/m1/categories") == 3


def test_a_read_timeout_is_a_retryable_upstream_failure(small_catalog: CatalogServer) -> None:
    small_catalog.timeout("/categories", seconds=3, times=1)
    client = CatalogClient(small_catalog.url, API_KEY, read_timeout=0.2)
    try:
        error = fetch_error(lambda: client.categories("m1"))
        recovered = client.categories("m1")
    finally:
        client.close()

    assert error.kind is ErrorKind.UPSTREAM_FAILURE
    assert "timed out" in str(error)
    assert error.status is None
    assert len(recovered) == 3


def test_a_dropped_connection_is_a_retryable_upstream_failure(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.drop("/branches", times=1)

    error = fetch_error(lambda: client.branches("m1"))

    assert error.kind is ErrorKind.UPSTREAM_FAILURE
    assert error.retryable
    assert len(client.branches("m1")) == 2


def test_a_refused_connection_is_a_retryable_upstream_failure() -> None:
    client = CatalogClient(f"http://127.0.0.1:{free_port()}", API_KEY, connect_timeout=0.5)
    try:
        error = fetch_error(lambda: client.categories("m1"))
    finally:
        client.close()

    assert error.kind is ErrorKind.UPSTREAM_FAILURE
    assert error.trips_breaker


def test_a_429_with_a_short_retry_after_is_raised_at_once_carrying_the_wait(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail("/categories", status=429, headers={"Retry-After": "7"}, times=1)

    error = fetch_error(lambda: client.categories("m1"))

    assert (error.kind, error.status, error.retry_after) == (ErrorKind.THROTTLED, 429, 7.0)
    assert error.retryable
    assert not error.trips_breaker
    assert small_catalog.request_count() == 1  # no retry inside the call


def test_a_429_asking_for_60_seconds_is_still_honoured(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail("/categories", status=429, headers={"Retry-After": "60"}, times=1)

    assert fetch_error(lambda: client.categories("m1")).retry_after == 60.0


@pytest.mark.parametrize("retry_after", ["120", "soon", None])
def test_a_429_asking_for_longer_than_60_seconds_or_unclear_takes_the_normal_backoff(
    client: CatalogClient, small_catalog: CatalogServer, retry_after: str | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    small_catalog.fail("/categories", status=429, headers=headers, times=1)

    error = fetch_error(lambda: client.categories("m1"))

    assert (error.kind, error.retry_after, error.retryable) == (ErrorKind.THROTTLED, None, True)


def test_a_429_retry_after_given_as_an_http_date_is_converted_to_seconds(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    small_catalog.fail("/categories", status=429, headers={"Retry-After": when}, times=1)

    wait = fetch_error(lambda: client.categories("m1")).retry_after

    assert wait is not None
    assert 20 <= wait <= 31


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_other_4xx_answers_are_permanent_rejections(
    client: CatalogClient, small_catalog: CatalogServer, status: int
) -> None:
    small_catalog.fail("/branches", status=status)

    error = fetch_error(lambda: client.branches("m1"))

    assert (error.kind, error.status, error.retryable, error.trips_breaker) == (
        ErrorKind.REJECTED,
        status,
        False,
        False,
    )


def test_an_unknown_merchant_and_a_wrong_key_are_rejections(small_catalog: CatalogServer) -> None:
    wrong_key = CatalogClient(small_catalog.url, "not-the-key")
    try:
        unauthorized = fetch_error(lambda: wrong_key.categories("m1"))
    finally:
        wrong_key.close()
    right_key = CatalogClient(small_catalog.url, API_KEY)
    try:
        unknown = fetch_error(lambda: right_key.categories("nobody"))
    finally:
        right_key.close()

    assert (unauthorized.status, unauthorized.kind) == (401, ErrorKind.REJECTED)
    assert (unknown.status, unknown.kind) == (404, ErrorKind.REJECTED)
    assert "not-the-key" not in str(unauthorized)


def test_a_2xx_without_a_data_list_is_an_upstream_failure(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.fail("/categories", status=200, body="<html>maintenance</html>", times=1)
    small_catalog.fail("/categories", status=200, body={"items": []}, times=1)

    first = fetch_error(lambda: client.categories("m1"))
    second = fetch_error(lambda: client.categories("m1"))

    assert first.kind is second.kind is ErrorKind.UPSTREAM_FAILURE
    assert first.retryable


def test_ids_with_reserved_characters_are_sent_percent_encoded(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    fetch_error(lambda: client.products("m1", "a/b ?c"))

    assert small_catalog.requests[0].path == "/merchants/m1/categories/a%2Fb%20%3Fc/products"


def test_one_client_serves_many_threads_at_once(
    client: CatalogClient, small_catalog: CatalogServer
) -> None:
    small_catalog.latency = 0.05
    results: list[int] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            results.append(len(client.products("m1", "c1")))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results == [3] * 16


def test_without_a_base_url_every_call_fails_permanently_without_a_request() -> None:
    client = CatalogClient(None, API_KEY)

    error = fetch_error(lambda: client.categories("m1"))

    assert (error.kind, error.retryable) == (ErrorKind.NOT_CONFIGURED, False)
    client.close()


# -- rare edges, through a mock transport ----------------------------------------------


def mock_client(base: str, pages: dict[str, dict], seen: list[str]) -> CatalogClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=pages[str(request.url)])

    return CatalogClient(base, API_KEY, transport=httpx.MockTransport(answer))


def test_a_path_next_is_resolved_under_a_base_url_with_a_path_prefix() -> None:
    seen: list[str] = []
    pages = {
        "https://api.example/v1/merchants/m1/branches": {
            "data": [{"id": "b1"}],
            "next": "/merchants/m1/branches?page=2",
        },
        "https://api.example/v1/merchants/m1/branches?page=2": {
            "data": [{"id": "b2"}],
            "next": "/v1/merchants/m1/branches?page=3",
        },
        "https://api.example/v1/merchants/m1/branches?page=3": {
            "data": [{"id": "b3"}],
            "next": "?page=4",
        },
        "https://api.example/v1/merchants/m1/branches?page=4": {"data": [{"id": "b4"}]},
    }
    client = mock_client("https://api.example/v1/", pages, seen)

    assert [b["id"] for b in client.branches("m1")] == ["b1", "b2", "b3", "b4"]
    assert seen == list(pages)
    client.close()


def test_a_next_on_another_host_is_refused_so_the_key_never_leaves_the_api() -> None:
    seen: list[str] = []
    pages = {
        "https://api.example/merchants/m1/branches": {
            "data": [],
            "next": "https://elsewhere.example/merchants/m1/branches?page=2",
        }
    }
    client = mock_client("https://api.example", pages, seen)

    error = fetch_error(lambda: client.branches("m1"))

    assert error.kind is ErrorKind.NOT_CONFIGURED
    assert seen == ["https://api.example/merchants/m1/branches"]
    client.close()


def test_a_next_that_loops_back_is_an_upstream_failure() -> None:
    seen: list[str] = []
    url = "https://api.example/merchants/m1/branches"
    client = mock_client("https://api.example", {url: {"data": [], "next": url}}, seen)

    assert fetch_error(lambda: client.branches("m1")).kind is ErrorKind.UPSTREAM_FAILURE
    assert len(seen) == 1
    client.close()


def test_catalog_errors_survive_pickling_with_their_classification() -> None:
    throttled = CatalogError("slow down", kind=ErrorKind.THROTTLED, status=429, retry_after=3.0)
    unavailable = CatalogUnavailable("open", retry_after=1.5)

    copy = pickle.loads(pickle.dumps(throttled))  # noqa: S301 (our own bytes)
    other = pickle.loads(pickle.dumps(unavailable))  # noqa: S301

    assert (copy.kind, copy.status, copy.retry_after, str(copy)) == (
        ErrorKind.THROTTLED,
        429,
        3.0,
        "slow down",
    )
    assert isinstance(other, CatalogUnavailable)
    assert (other.kind, other.retry_after) == (ErrorKind.CIRCUIT_OPEN, 1.5)
