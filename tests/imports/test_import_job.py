"""The `import_orders` job on the real broker with an in-process worker, against the stand-in
catalog over HTTP: counts, resuming after a failed page, the orders breaker, dead letters
and replays, reruns that change nothing."""

from __future__ import annotations

import itertools
import logging

import pytest
from sqlalchemy import select

from actors.dead_letters import list_letters, retry_letter
from catalog.errors import CatalogError, ErrorKind
from imports.models import (
    Order,
    OrderBranchDay,
    OrderBranchHour,
    OrderCustomerDay,
    OrderCustomerHour,
    OrderHour,
    OrderImport,
    OrderItemDay,
    OrderItemHour,
    OrderProduct,
)
from tests.imports.conftest import DEMO_MERCHANT, upstream_orders
from tests.support.dead_letters import letters_when_listed
from tests.support.processes import on_rabbitmq
from tests.support.waiting import wait_until

ORDERS = f"/merchants/{DEMO_MERCHANT}/orders"
redis_only = pytest.mark.skipif(on_rabbitmq(), reason="dead letters are replayed on Redis only")


def aggregates(runtime) -> dict[str, list[tuple]]:
    """Every order aggregate row, comparable across runs."""
    tables = {
        "hours": (OrderHour, ("hour", "currency", "orders", "revenue_minor")),
        "items": (OrderItemHour, ("hour", "product_id", "currency", "quantity", "revenue_minor")),
        "item days": (OrderItemDay, ("day", "product_id", "currency", "quantity", "revenue_minor")),
        "branches": (OrderBranchHour, ("hour", "branch_id", "orders")),
        "branch days": (OrderBranchDay, ("day", "branch_id", "orders")),
        "customers": (OrderCustomerHour, ("hour", "customer_ref", "orders")),
        "customer days": (OrderCustomerDay, ("day", "customer_ref", "orders")),
        "names": (OrderProduct, ("product_id", "name")),
    }
    with runtime.read_transaction() as session:
        return {
            name: sorted(
                tuple(getattr(row, column) for column in columns)
                for row in session.scalars(select(model))
            )
            for name, (model, columns) in tables.items()
        }


def first_pages(catalog) -> int:
    """Requests for the first page of a day (no `page=` yet)."""
    return sum(1 for r in catalog.requests if r.path == ORDERS and "page=" not in r.query)


def test_an_import_of_the_demo_history_stores_every_order_of_the_period_and_says_how_many(
    demo, start, finished, stored, fake_catalog, worker, caplog
):
    caplog.set_level(logging.INFO, logger="imports")
    job = finished(start(days=30), "succeeded")
    expected = upstream_orders(fake_catalog, job)
    assert len(expected) > 1500  # a realistic month of the demo restaurant
    assert job.result == {
        "orders": len(expected),
        "days": 30,
        "pages": fake_catalog.request_count(ORDERS),
    }
    assert stored() == len(expected)
    assert (job.progress_done, job.progress_total, job.progress_step) == (
        len(expected),
        len(expected),
        "done",
    )
    assert first_pages(fake_catalog) == 30  # one day chunk a day
    assert f"notice import.completed restaurant=demo job={job.id} orders={len(expected)}" in (
        caplog.text
    )


def test_the_import_reads_the_period_now_minus_days_to_now(
    demo, start, finished, fake_catalog, worker
):
    job = finished(start(days=3), "succeeded")
    windows = sorted(
        (r.query_params["since"], r.query_params["until"])
        for r in fake_catalog.requests
        if "page=" not in r.query
    )
    until = job.payload["kwargs"]["until"]
    assert len(windows) == 3
    assert windows[-1][1] == until
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))


def test_a_rerun_of_the_same_period_changes_nothing(
    demo, start, finished, stored, live_runtime, fake_catalog, worker
):
    first = finished(start(days=14), "succeeded")
    before = aggregates(live_runtime)
    second = finished(start(days=14), "succeeded")
    assert stored() == first.result["orders"]
    # The already-known orders of the period count in the second import's result too.
    assert second.result["orders"] == first.result["orders"]
    assert aggregates(live_runtime) == before


def test_overlapping_imports_count_each_order_once(
    demo, start, finished, stored, live_runtime, fake_catalog, worker
):
    month = finished(start(days=30), "succeeded")
    before = aggregates(live_runtime)
    week = finished(start(days=7), "succeeded")
    assert week.result["orders"] == len(upstream_orders(fake_catalog, week))
    assert stored() == month.result["orders"]
    assert aggregates(live_runtime) == before


def test_a_page_that_fails_is_retried_and_the_import_resumes_after_the_last_page_it_stored(
    demo, start, finished, stored, fake_catalog, worker
):
    fake_catalog.fail(r"page=2", status=503, times=1)
    job = finished(start(days=30), "succeeded")
    expected = upstream_orders(fake_catalog, job)
    assert job.attempts == 2
    assert job.result["orders"] == len(expected) == stored()
    # No day started over: each day's first page was read once, in the first attempt.
    assert first_pages(fake_catalog) == 30


@pytest.mark.parametrize("settings", [{"catalog_breaker_failures": 1000}], indirect=True)
@redis_only
def test_a_catalog_that_keeps_failing_leaves_the_job_dead_with_what_it_stored_and_a_replay_finishes_it(  # noqa: E501
    demo, start, finished, stored, live_runtime, fake_catalog, worker, caplog
):
    # Every day's first page arrives; every later page fails.
    fake_catalog.fail(r"page=2", status=500)
    job = finished(start(days=30), "dead")
    assert job.attempts == live_runtime.settings.queue_retry_attempts + 1
    assert "500" in job.error
    kept = stored()
    assert 0 < kept < len(upstream_orders(fake_catalog, job))
    with live_runtime.read_transaction() as session:
        state = session.get(OrderImport, job.id)
        assert (state.status, state.orders) == ("dead", None)
    assert f"notice import.failed restaurant=demo job={job.id}" in caplog.text
    assert [letter["id"] for letter in letters_when_listed(live_runtime)] == [job.id]

    fake_catalog.clear_faults()
    fake_catalog.clear_requests()
    assert retry_letter(live_runtime, job.id, by="test")
    replayed = finished(job.id, "succeeded")
    expected = upstream_orders(fake_catalog, replayed)
    assert replayed.result["orders"] == len(expected) == stored()
    assert first_pages(fake_catalog) == 0  # the replay read only the pages still missing
    with live_runtime.read_transaction() as session:
        ids = session.scalars(select(Order.order_id)).all()
    assert len(ids) == len(set(ids)) == len(expected)


@pytest.mark.parametrize("settings", [{"catalog_breaker_cooldown_ms": 1500}], indirect=True)
def test_with_the_orders_breaker_open_the_import_waits_for_the_cooldown_then_succeeds(
    demo, start, finished, live_runtime, fake_catalog, worker
):
    breaker = live_runtime.orders_breaker

    def refused():
        raise CatalogError("down", kind=ErrorKind.UPSTREAM_FAILURE)

    for _ in range(live_runtime.settings.catalog_breaker_failures):
        with pytest.raises(CatalogError):
            breaker.call(DEMO_MERCHANT, refused)
    assert breaker.state(DEMO_MERCHANT) == "open"
    job = finished(start(days=7), "succeeded")
    assert job.attempts == 2  # the first failed fast; the retry waited for the cooldown
    assert job.result["orders"] == len(upstream_orders(fake_catalog, job))
    assert breaker.state(DEMO_MERCHANT) == "closed"


def test_a_failing_orders_endpoint_opens_its_own_breaker_never_the_menus(
    demo, start, finished, live_runtime, fake_catalog, worker
):
    fake_catalog.fail(r"/orders", status=502)
    finished(start(days=30), "dead")
    assert live_runtime.orders_breaker.state(DEMO_MERCHANT) == "open"
    assert live_runtime.catalog_breaker.state(DEMO_MERCHANT) == "closed"
    assert len(live_runtime.catalog.categories(DEMO_MERCHANT)) == 12  # customers still browse


def test_a_catalog_that_refuses_the_orders_fails_the_job_at_once(
    demo, start, finished, fake_catalog, worker
):
    fake_catalog.fail(r"/orders", status=403, times=1)
    job = finished(start(days=2), "failed")
    assert job.attempts == 1
    assert "403" in job.error


@pytest.mark.parametrize(
    "kwargs",
    [
        {"restaurant_id": "demo"},
        {"restaurant_id": "demo", "days": 0, "until": "2025-10-20T15:30:00.000Z"},
        {"restaurant_id": "demo", "days": True, "until": "2025-10-20T15:30:00.000Z"},
        {"restaurant_id": "demo", "days": 3, "until": "yesterday"},
        {"restaurant_id": "demo", "days": 3, "until": "2025-10-20T15:30:00.000Z", "x": 1},
    ],
)
@redis_only
def test_a_malformed_import_message_fails_at_once_and_is_dead_lettered(
    demo, finished, live_runtime, broker, fake_catalog, worker, kwargs
):
    from actors.imports import import_orders

    message = import_orders.send_with_options(kwargs=kwargs)
    job = finished(message.message_id, "failed")
    assert job.attempts == 1
    assert "malformed import_orders payload" in job.error
    assert fake_catalog.request_count() == 0
    assert wait_until(
        lambda: (
            [x["id"] for x in list_letters(live_runtime, offset=0, limit=5)[1]]
            == [message.message_id]
        )
    )


def test_an_import_for_an_unknown_restaurant_fails_at_once(finished, broker, worker):
    from actors.imports import import_orders

    message = import_orders.send(restaurant_id="nope", days=3, until="2025-10-20T15:30:00.000Z")
    job = finished(message.message_id, "failed")
    assert (job.attempts, job.error) == (1, "PermanentError: unknown restaurant 'nope'")


# A cooldown no slow run outlasts between opening the breaker and reading "open".
@pytest.mark.parametrize("settings", [{"catalog_breaker_cooldown_ms": 60_000}], indirect=True)
def test_operators_see_an_open_orders_breaker_apart_from_the_menus(
    live_client, live_runtime, settings
):
    from tests.usage_api.conftest import admin_headers

    with live_runtime.transaction() as session:
        admin = admin_headers(session)

    def refused():
        raise CatalogError("down", kind=ErrorKind.UPSTREAM_FAILURE)

    for _ in range(settings.catalog_breaker_failures):
        with pytest.raises(CatalogError):
            live_runtime.orders_breaker.call("merchant-y", refused)
    snapshot = live_client.get("/api/admin/metrics", headers=admin).get_json()
    assert snapshot["breakers"]["orders"] == {"merchant-y": "open"}
    assert snapshot["breakers"]["tripped"] == {}
    text = live_client.get("/metrics").get_data(as_text=True)
    assert 'restaurant_bot_orders_breakers{state="open"} 1.0' in text
    assert 'restaurant_bot_catalog_breakers{state="open"} 0.0' in text
    assert "merchant-y" not in text


def test_any_period_of_the_insights_adds_up_the_orders_of_its_local_days(
    demo, start, finished, live_runtime, fake_catalog, worker
):
    import collections
    import datetime as dt

    from imports.insights import orders_section
    from store.periods import Period, local_slot, utc_hour

    job = finished(start(days=30), "succeeded")
    orders = upstream_orders(fake_catalog, job)

    def local_day(order):
        moment = dt.datetime.fromisoformat(order["createdAt"].replace("Z", "+00:00"))
        return local_slot(utc_hour(moment), "Asia/Riyadh")[0]

    days = sorted({local_day(order) for order in orders})
    for first, last in ((days[1], days[1]), (days[3], days[9]), (days[0], days[-1])):
        inside = [order for order in orders if first <= local_day(order) <= last]
        refs = collections.Counter(o["customerRef"] for o in inside if o["customerRef"])
        sold = collections.Counter()
        for order in inside:
            for line in order["items"]:
                sold[line["productId"]] += line["quantity"]
        with live_runtime.read_transaction() as session:
            section = orders_section(session, "demo", Period(first, last, "Asia/Riyadh"))
        assert section["count"] == len(inside)
        assert section["repeatCustomers"] == sum(1 for n in refs.values() if n >= 2)
        assert sum(b["orders"] for b in section["byBranch"]) == len(inside)
        top = section["topItems"][0]
        assert top["quantity"] == max(sold.values()) == sold[top["productId"]]
