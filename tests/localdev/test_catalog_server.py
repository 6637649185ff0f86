"""The catalog API stand-in, exercised over real HTTP with httpx."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from localdev.catalog_server import (
    DEMO_MERCHANT_ID,
    CatalogServer,
    demo_catalog,
    synthetic_merchant,
)

KEY = "test-catalog-key"
CATEGORIES = f"/merchants/{DEMO_MERCHANT_ID}/categories"
BRANCHES = f"/merchants/{DEMO_MERCHANT_ID}/branches"
ARABIC = re.compile(r"[\u0600-\u06FF]")
LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture
def server() -> Iterator[CatalogServer]:
    with CatalogServer(api_key=KEY) as running:
        yield running


@pytest.fixture
def client(server: CatalogServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5.0
    ) as http:
        yield http


def collect(client: httpx.Client, path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Follow `next` from `path` to the end; return the items and every `next` seen."""
    items: list[dict[str, Any]] = []
    nexts: list[str] = []
    url: str | None = path
    while url is not None:
        response = client.get(url)
        response.raise_for_status()
        page = response.json()
        items.extend(page["data"])
        url = page["next"]
        if url is not None:
            nexts.append(url)
    return items, nexts


def test_following_next_of_both_styles_collects_every_category_of_the_demo_merchant() -> None:
    with (
        CatalogServer(api_key=KEY, page_size=3) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}) as client,
    ):
        categories, nexts = collect(client, CATEGORIES)

    expected = [c["id"] for c in demo_catalog().get(DEMO_MERCHANT_ID).categories]  # type: ignore[union-attr]
    assert [c["id"] for c in categories] == expected
    assert any(n.startswith(f"{server.url}/") for n in nexts)
    assert any(n.startswith("/merchants/") for n in nexts)


@pytest.mark.parametrize(("style", "prefix"), [("absolute", "http://"), ("path", "/merchants/")])
def test_next_takes_the_configured_style_on_every_page(style: str, prefix: str) -> None:
    with (
        CatalogServer(page_size=2, next_style=style) as server,  # type: ignore[arg-type]
        httpx.Client(base_url=server.url) as client,
    ):
        categories, nexts = collect(client, CATEGORIES)

    assert len(categories) >= 8
    assert nexts
    assert all(n.startswith(prefix) for n in nexts)


def test_the_demo_category_list_paginates_at_the_default_page_size(
    client: httpx.Client,
) -> None:
    first = client.get(CATEGORIES).json()

    assert len(first["data"]) == 10
    assert first["next"] is not None


def test_the_demo_merchant_has_a_realistic_bilingual_menu_in_sar(client: httpx.Client) -> None:
    categories, _ = collect(client, CATEGORIES)
    products: list[dict[str, Any]] = []
    paginated = []
    for category in categories:
        items, nexts = collect(client, f"{CATEGORIES}/{category['id']}/products")
        products.extend(items)
        if nexts:
            paginated.append(category["id"])

    assert len(categories) >= 8
    assert len(products) >= 40
    assert paginated, "one category should have more products than a page holds"
    for named in categories + products:
        assert ARABIC.search(named["name"]), named
        assert LATIN.search(named["name"]), named
    assert {p["currency"] for p in products} == {"SAR"}
    assert all(Decimal(str(p["price"])) > 0 for p in products)
    assert any(isinstance(p["price"], str) for p in products)
    assert any(isinstance(p["price"], int | float) for p in products)
    assert len({p["id"] for p in products}) == len(products)


def test_the_demo_merchant_has_three_branches_with_address_and_hours(
    client: httpx.Client,
) -> None:
    branches, _ = collect(client, BRANCHES)

    assert len(branches) == 3
    assert {b["city"] for b in branches} == {"Riyadh", "Jeddah"}
    assert all(branch["address"] for branch in branches)
    assert all(branch["hours"] for branch in branches)
    assert all(ARABIC.search(branch["name"]) for branch in branches)


def test_an_unknown_merchant_or_category_answers_404(client: httpx.Client) -> None:
    assert client.get("/merchants/nobody/categories").status_code == 404
    assert client.get("/merchants/nobody/branches").status_code == 404
    assert client.get(f"{CATEGORIES}/no-such-category/products").status_code == 404


def test_a_request_without_the_right_bearer_key_answers_401(server: CatalogServer) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        missing = anonymous.get(CATEGORIES)
        wrong = anonymous.get(CATEGORIES, headers={"Authorization": "Bearer nope"})

    assert missing.status_code == 401
    assert missing.json() == {"error": "unauthorized"}
    assert wrong.status_code == 401


def test_a_merchant_set_by_a_test_is_served_while_the_server_runs(
    server: CatalogServer, client: httpx.Client
) -> None:
    server.catalog.set_merchant(
        "m1",
        categories=[{"id": "c1", "name": "Pizza / بيتزا"}],
        branches=[{"id": "b1", "name": "Main", "address": "Riyadh", "hours": "24h"}],
        products={"c1": [{"id": "p1", "name": "Margherita", "price": "30.00", "currency": "SAR"}]},
    )

    assert client.get("/merchants/m1/categories").json() == {
        "data": [{"id": "c1", "name": "Pizza / بيتزا"}],
        "next": None,
    }
    assert client.get("/merchants/m1/categories/c1/products").json()["data"][0]["id"] == "p1"


def test_a_synthetic_merchant_has_the_requested_size(
    server: CatalogServer, client: httpx.Client
) -> None:
    server.catalog.set_merchant("big", synthetic_merchant(30, 20, 5))

    categories, _ = collect(client, "/merchants/big/categories")
    branches, _ = collect(client, "/merchants/big/branches")
    products, _ = collect(client, f"/merchants/big/categories/{categories[-1]['id']}/products")

    assert (len(categories), len(branches), len(products)) == (30, 20, 5)


def test_a_failing_path_answers_500_the_given_number_of_times_then_recovers(
    server: CatalogServer, client: httpx.Client
) -> None:
    server.fail(r"/branches$", status=500, times=2)

    statuses = [client.get(BRANCHES).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert client.get(CATEGORIES).status_code == 200


def test_a_429_fault_carries_its_retry_after_header(
    server: CatalogServer, client: httpx.Client
) -> None:
    server.fail("/categories", status=429, headers={"Retry-After": "2"}, times=1)

    limited = client.get(CATEGORIES)

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert client.get(CATEGORIES).status_code == 200


def test_faults_apply_in_order_of_registration_until_cleared(
    server: CatalogServer, client: httpx.Client
) -> None:
    server.fail("/categories", status=503, times=1)
    server.fail("/categories", status=502, body={"error": "bad gateway"})

    first, second = client.get(CATEGORIES), client.get(CATEGORIES)
    server.clear_faults()

    assert (first.status_code, second.status_code) == (503, 502)
    assert second.json() == {"error": "bad gateway"}
    assert client.get(CATEGORIES).status_code == 200


def test_a_fault_can_target_one_page_through_the_query_string(
    server: CatalogServer, client: httpx.Client
) -> None:
    server.fail(r"page=2", status=500)

    assert client.get(CATEGORIES).status_code == 200
    assert client.get(CATEGORIES, params={"page": 2}).status_code == 500


def test_a_held_answer_makes_the_client_read_time_out(
    server: CatalogServer, client: httpx.Client
) -> None:
    server.timeout("/branches", seconds=10, times=1)

    with pytest.raises(httpx.ReadTimeout):
        client.get(BRANCHES, timeout=httpx.Timeout(2.0, read=0.3))
    assert client.get(BRANCHES).status_code == 200


def test_a_dropped_connection_gives_the_client_no_response(
    server: CatalogServer, client: httpx.Client
) -> None:
    server.drop("/categories", times=1)

    with pytest.raises(httpx.RemoteProtocolError):
        client.get(CATEGORIES)
    assert client.get(CATEGORIES).status_code == 200


def test_latency_delays_every_answer(server: CatalogServer, client: httpx.Client) -> None:
    server.latency = 0.5

    with pytest.raises(httpx.ReadTimeout):  # held back: no answer within 0.1 s
        client.get(BRANCHES, timeout=0.1)
    server.latency = 0.0
    assert client.get(BRANCHES).status_code == 200


def test_every_request_is_recorded_with_its_path_query_and_headers(
    server: CatalogServer, client: httpx.Client
) -> None:
    client.get(CATEGORIES, params={"page": 2})
    client.get(BRANCHES)

    first = server.requests[0]
    assert (first.method, first.path, first.query) == ("GET", CATEGORIES, "page=2")
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert server.request_count() == 2
    assert server.request_count(CATEGORIES) == 1
    server.clear_requests()
    assert server.request_count() == 0


def test_running_the_module_serves_the_demo_catalog_until_sigterm() -> None:
    command = [sys.executable, "-m", "localdev.catalog_server", "--port", "0", "--api-key", KEY]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("CATALOG_URL=http://127.0.0.1:")
        url = line.removeprefix("CATALOG_URL=")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as client:
            assert client.get(CATEGORIES).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
