"""The welcome bootstrap warms a new customer's menu, branches and templates (SPEC §5)."""

import time

import pytest
from sqlalchemy import select

from cache.keys import CacheKeys
from store.models import Job
from tests.support import factories
from tests.support.twilio import inbound_form, post_signed

CUSTOMER = "+966511111111"
WELCOME_SID = "HX" + "4" * 32


@pytest.fixture
def restaurant(live_runtime, settings):
    with live_runtime.transaction() as session:
        return factories.restaurant(session, settings, welcome_content_sid=WELCOME_SID)


def jobs(live_runtime, actor="welcome_bootstrap"):
    with live_runtime.transaction() as session:
        return session.scalars(select(Job).where(Job.actor == actor).order_by(Job.created_at)).all()


def wait_for_job(live_runtime, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = jobs(live_runtime)
        if found and predicate(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"jobs never matched: {[(j.status, j.error) for j in jobs(live_runtime)]}")


def send_job(broker, **payload):
    from actors.bootstrap import welcome_bootstrap

    return welcome_bootstrap.send_with_options(kwargs=payload)


def payload(restaurant, customer=CUSTOMER):
    return {
        "restaurant_id": restaurant.id,
        "merchant_id": restaurant.merchant_id,
        "customer": customer,
        "requested_at": "2025-10-20T15:30:00.000Z",
    }


def test_a_welcome_warms_categories_branches_and_the_template(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker, caplog
):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
    post_signed(live_client, settings.twilio_auth_token, form)
    [job] = wait_for_job(live_runtime, lambda found: found[0].status == "succeeded")
    assert job.result["categories"] == 12
    assert job.result["branches"] == 3
    assert job.result["templates"] == 1
    keys = CacheKeys.for_namespace(settings.redis_namespace)
    assert live_runtime.redis.exists(keys.categories("demo-merchant"))
    assert live_runtime.redis.exists(keys.branches("demo-merchant"))
    assert live_runtime.redis.exists(keys.template(WELCOME_SID))
    assert fake_catalog.request_count("/merchants/demo-merchant/categories") == 2  # two pages
    assert fake_catalog.request_count("/merchants/demo-merchant/branches") == 1
    assert "welcome bootstrap done merchant=demo-merchant customer=+9665…" in caplog.text
    assert "categories=12 branches=3" in caplog.text


def test_a_bootstrap_with_everything_fresh_calls_nothing_upstream(
    live_runtime, restaurant, fake_twilio, fake_catalog, worker, broker
):
    send_job(broker, **payload(restaurant))
    wait_for_job(live_runtime, lambda found: found[0].status == "succeeded")
    fake_catalog.clear_requests()
    fake_twilio.clear()
    send_job(broker, **payload(restaurant, "+966522222222"))
    found = wait_for_job(
        live_runtime, lambda found: len(found) == 2 and found[1].status == "succeeded"
    )
    assert found[1].result["cacheHits"] == 2
    assert fake_catalog.request_count() == 0
    assert fake_twilio.requests == [] or len(fake_twilio.requests) == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"merchant_id": ""},
        {"requested_at": "yesterday"},
        {"requested_at": "2025-10-20T15:30:00Z"},  # no milliseconds
        {"customer": None},
        {"surprise": "x"},
    ],
)
def test_a_malformed_payload_fails_at_once_without_retries(
    live_runtime, restaurant, fake_catalog, worker, broker, bad
):
    values = {**payload(restaurant), **bad}
    send_job(broker, **values)
    [job] = wait_for_job(live_runtime, lambda found: found[0].status == "failed")
    assert job.attempts == 1
    assert "malformed bootstrap payload" in job.error
    assert fake_catalog.request_count() == 0


def test_branches_failing_leave_the_job_partial_and_the_categories_cached_then_it_recovers(
    live_runtime, settings, restaurant, fake_catalog, worker, broker
):
    fake_catalog.fail(r"/branches$", status=503, times=2)
    send_job(broker, **payload(restaurant))
    [job] = wait_for_job(live_runtime, lambda found: found[0].status == "succeeded")
    assert job.attempts == 3
    assert job.result["branches"] == 3
    # The categories were fetched once; only the failed part was retried.
    assert fake_catalog.request_count("/merchants/demo-merchant/categories") == 2
    assert fake_catalog.request_count("/merchants/demo-merchant/branches") == 3


def test_retries_exhausted_dead_letter_the_job(
    live_runtime, settings, restaurant, fake_catalog, worker, broker
):
    fake_catalog.fail(r"/branches$", status=500)
    send_job(broker, **payload(restaurant))
    [job] = wait_for_job(live_runtime, lambda found: found[0].status == "dead", timeout=30)
    assert job.attempts == settings.queue_retry_attempts + 1
    assert "branches" in job.error
    dead = live_runtime.redis.zcard(f"{settings.redis_namespace}:bootstrap.XQ")
    assert dead == 1


def test_a_permanent_catalog_error_fails_the_job_at_once(
    live_runtime, restaurant, fake_catalog, worker, broker
):
    fake_catalog.fail(r"/categories$", status=404)
    send_job(broker, **payload(restaurant))
    [job] = wait_for_job(live_runtime, lambda found: found[0].status == "failed")
    assert job.attempts == 1
