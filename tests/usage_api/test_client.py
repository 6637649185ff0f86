"""The Python client against the real app served over HTTP on 127.0.0.1."""

import datetime as dt
import threading

import httpx
import pytest
from werkzeug.serving import make_server

from store.restaurants import update_restaurant
from tests.usage_api.conftest import (
    NOW,
    Clock,
    add_restaurant,
    admin_headers,
    open_conversation,
    owner_headers,
)
from usage_api.client import (
    Allowance,
    HistoryMonth,
    Pagination,
    Usage,
    UsageApiError,
    UsageClient,
)
from usage_api.clock import CLOCK


@pytest.fixture
def server_url(live_app):
    """Serve the app (committed data) with werkzeug's threaded server on a free port."""
    live_app.config[CLOCK] = Clock(NOW)
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def world(live_runtime, settings):
    with live_runtime.transaction() as session:
        for number in range(1, 6):
            add_restaurant(session, settings, f"r{number}", timezone="Asia/Riyadh")
        update_restaurant(session, settings, "r5", is_active=False)
        open_conversation(session, "r1", NOW - dt.timedelta(hours=2))
        open_conversation(session, "r1", dt.datetime(2025, 9, 3, 9, 0, tzinfo=dt.UTC))
        owner = owner_headers(session, "r1")
        admin = admin_headers(session)
    return {
        "token": owner["Authorization"].removeprefix("Bearer "),
        "api_key": admin["X-API-Key"],
    }


def test_an_owner_reads_typed_usage(server_url, world):
    with UsageClient(server_url, token=world["token"], restaurant_id="r1") as api:
        usage = api.own_usage()
    assert usage == Usage(
        restaurant_id="r1",
        restaurant_name="Restaurant r1",
        conversations_this_month=1,
        last_conversation_at=NOW - dt.timedelta(hours=2),
        allowance=Allowance(
            daily_limit=1000, daily_remaining=999, monthly_limit=30000, monthly_remaining=29999
        ),
        first_activity=dt.datetime(2025, 9, 3, 9, 0, tzinfo=dt.UTC),
        last_activity=NOW - dt.timedelta(hours=2),
        is_active=True,
    )


def test_an_admin_pages_through_every_restaurant(server_url, world):
    with UsageClient(server_url, api_key=world["api_key"]) as api:
        page = api.list_usage(limit=2, offset=1)
        everyone = list(api.iter_usage(page_size=2))
    assert [usage.restaurant_id for usage in page.data] == ["r2", "r3"]
    assert page.pagination == Pagination(total=5, limit=2, offset=1, has_more=True)
    assert [usage.restaurant_id for usage in everyone] == ["r1", "r2", "r3", "r4", "r5"]
    assert [usage.is_active for usage in everyone] == [True, True, True, True, False]


def test_an_admin_reads_a_restaurants_history(server_url, world):
    with UsageClient(server_url, api_key=world["api_key"]) as api:
        detail = api.restaurant_usage("r1")
    assert detail.usage.conversations_this_month == 1
    assert [(month.year, month.month) for month in detail.history] == [
        (2025, 10), (2025, 9), (2025, 8), (2025, 7), (2025, 6), (2025, 5),
    ]  # fmt: skip
    assert detail.history[1] == HistoryMonth(
        year=2025,
        month=9,
        conversation_count=1,
        last_conversation_at=dt.datetime(2025, 9, 3, 9, 0, tzinfo=dt.UTC),
    )


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        (lambda api: api.restaurant_usage("nope"), 404, "not_found"),
        (lambda api: api.restaurant_usage("a/b"), 404, "not_found"),
        (lambda api: api.list_usage(limit=0), 400, "invalid_parameter"),
    ],
)
def test_an_admins_errors_are_raised_with_the_apis_status_and_code(
    server_url, world, call, status, code
):
    with (
        UsageClient(server_url, api_key=world["api_key"]) as api,
        pytest.raises(UsageApiError) as raised,
    ):
        call(api)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert raised.value.message


def test_an_owners_errors_are_raised_with_the_apis_status_and_code(server_url, world):
    with UsageClient(server_url, token=world["token"], restaurant_id="r2") as api:
        with pytest.raises(UsageApiError) as other_restaurant:
            api.own_usage()
        with pytest.raises(UsageApiError) as admin_only:
            api.restaurant_usage("r1")
    token = world["token"]
    mistyped = token[:-1] + ("x" if token[-1] != "x" else "y")
    with (
        UsageClient(server_url, token=mistyped, restaurant_id="r1") as api,
        pytest.raises(UsageApiError) as typo,
    ):
        api.own_usage()
    assert (other_restaurant.value.status, other_restaurant.value.code) == (403, "forbidden")
    assert (admin_only.value.status, admin_only.value.code) == (403, "forbidden")
    assert (typo.value.status, typo.value.code) == (401, "invalid_credentials")


def test_a_proxys_page_instead_of_the_apis_json_is_an_http_error():
    # The one answer our app never gives: a gateway's HTML page.
    gateway = httpx.MockTransport(lambda request: httpx.Response(502, text="<h1>Bad gateway</h1>"))
    with (
        UsageClient("http://api.test", api_key="k", transport=gateway) as api,
        pytest.raises(UsageApiError) as raised,
    ):
        api.list_usage()
    assert (raised.value.status, raised.value.code) == (502, "http_error")
    assert "Bad gateway" in raised.value.message


def test_the_client_needs_one_kind_of_credentials():
    with pytest.raises(ValueError, match="either"):
        UsageClient("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="either"):
        UsageClient("http://127.0.0.1:1", api_key="k", token="t", restaurant_id="r1")
    with pytest.raises(ValueError, match="restaurant_id"):
        UsageClient("http://127.0.0.1:1", token="t")
