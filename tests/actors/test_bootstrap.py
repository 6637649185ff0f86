"""The welcome bootstrap warms a new customer's menu, branches and templates (SPEC §5).

An in-process worker on the real broker; the catalog and Twilio are stand-ins over HTTP.
Tests across real worker processes are in `test_bootstrap_workers.py`.
"""

import logging

import pytest

from cache.keys import CacheKeys
from cache.two_tier import TwoTierCache
from catalog.client import CatalogClient
from catalog.errors import CatalogError
from localdev.catalog_server import synthetic_merchant
from localdev.embedded_redis import EmbeddedRedis
from store.redis import make_redis
from tests.support import factories
from tests.support.bootstrap import bootstrap_payload, send_bootstrap, wait_for_jobs
from tests.support.twilio import inbound_form, post_signed

CUSTOMER = "+966511111111"
WELCOME_SID = "HX" + "4" * 32
DEMO = "/merchants/demo-merchant"


@pytest.fixture
def restaurant(live_runtime, settings):
    with live_runtime.transaction() as session:
        return factories.restaurant(session, settings, welcome_content_sid=WELCOME_SID)


def payload(restaurant, customer=CUSTOMER, **changes):
    return bootstrap_payload(restaurant, customer, **changes)


def single_job(live_runtime, status, timeout=20.0):
    [job] = wait_for_jobs(live_runtime, lambda found: found[0].status == status, timeout)
    return job


def test_a_welcome_warms_categories_branches_and_the_template(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker, caplog
):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
    post_signed(live_client, settings.twilio_auth_token, form)
    job = single_job(live_runtime, "succeeded")
    assert job.result["categories"] == 12
    assert job.result["branches"] == 3
    assert job.result["templates"] == 1
    keys = CacheKeys.for_namespace(settings.redis_namespace)
    assert live_runtime.redis.exists(keys.categories("demo-merchant"))
    assert live_runtime.redis.exists(keys.branches("demo-merchant"))
    assert live_runtime.redis.exists(keys.template(WELCOME_SID))
    assert fake_catalog.request_count(f"{DEMO}/categories") == 2  # two pages
    assert fake_catalog.request_count(f"{DEMO}/branches") == 1
    assert "welcome bootstrap done merchant=demo-merchant customer=+9665…" in caplog.text
    assert "categories=12 branches=3" in caplog.text


def test_a_bootstrap_with_everything_fresh_calls_nothing_upstream(
    live_runtime, restaurant, fake_twilio, fake_catalog, worker
):
    send_bootstrap(**payload(restaurant))
    single_job(live_runtime, "succeeded")
    fake_catalog.clear_requests()
    fake_twilio.clear()
    send_bootstrap(**payload(restaurant, "+966522222222"))
    found = wait_for_jobs(
        live_runtime, lambda found: len(found) == 2 and found[1].status == "succeeded"
    )
    assert found[1].result["cacheHits"] == 2
    assert fake_catalog.request_count() == 0
    assert len(fake_twilio.requests) == 0


def test_a_large_menu_is_read_through_every_page(
    live_runtime, settings, fake_catalog, fake_twilio, worker
):
    fake_catalog.catalog.set_merchant("large", synthetic_merchant(30, 20))
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings, merchant_id="large")
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "succeeded")
    assert (job.result["categories"], job.result["branches"]) == (30, 20)
    assert fake_catalog.request_count("/merchants/large/categories") == 3
    assert fake_catalog.request_count("/merchants/large/branches") == 2
    assert [c["id"] for c in live_runtime.catalog.peek_categories("large")] == [
        f"c{n}" for n in range(1, 31)
    ]


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
    live_runtime, restaurant, fake_catalog, worker, bad
):
    send_bootstrap(**{**payload(restaurant), **bad})
    job = single_job(live_runtime, "failed")
    assert job.attempts == 1
    assert "malformed bootstrap payload" in job.error
    assert fake_catalog.request_count() == 0


def test_branches_failing_leave_the_job_partial_and_the_categories_cached_then_it_recovers(
    live_runtime, settings, restaurant, fake_catalog, worker
):
    fake_catalog.fail(r"/branches$", status=503, times=2)
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "succeeded")
    assert job.attempts == 3
    assert job.result["branches"] == 3
    # The categories were fetched once; only the failed part was retried.
    assert fake_catalog.request_count(f"{DEMO}/categories") == 2
    assert fake_catalog.request_count(f"{DEMO}/branches") == 3


def test_a_500_on_a_later_page_is_retried_from_the_first_page_and_recovers(
    live_runtime, restaurant, fake_catalog, worker
):
    fake_catalog.fail(r"/categories\?page=2$", status=500, times=1)
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "succeeded")
    assert job.attempts == 2
    assert job.result["categories"] == 12
    assert [r.target for r in fake_catalog.requests if "/categories" in r.path] == [
        f"{DEMO}/categories",
        f"{DEMO}/categories?page=2",
        f"{DEMO}/categories",
        f"{DEMO}/categories?page=2",
    ]
    assert fake_catalog.request_count(f"{DEMO}/branches") == 1


def test_a_catalog_timeout_is_retried_and_the_job_recovers(
    live_runtime, settings, restaurant, fake_catalog, worker
):
    # The real client with a short read timeout (5 s in production).
    live_runtime.override(
        "catalog_client",
        CatalogClient(settings.sufrah_api_base, settings.sufrah_api_key, read_timeout=0.3),
    )
    fake_catalog.timeout(r"/branches$", seconds=1.0, times=1)
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "succeeded")
    assert job.attempts == 2
    assert job.result["branches"] == 3
    assert fake_catalog.request_count(f"{DEMO}/branches") == 2


def test_a_429_with_retry_after_waits_that_long_as_a_partial_job_then_succeeds(
    live_runtime, restaurant, fake_catalog, worker
):
    fake_catalog.fail(r"/branches$", status=429, times=1, headers={"Retry-After": "1"})
    send_bootstrap(**payload(restaurant))
    single_job(live_runtime, "partial")  # categories cached, branches waiting
    job = single_job(live_runtime, "succeeded")
    assert job.attempts == 2
    first, second = [r.received_monotonic for r in fake_catalog.requests if "/branches" in r.path]
    assert second - first >= 1.0  # honoured: not the 50 ms backoff of the test settings


def test_a_429_asking_for_more_than_60_seconds_takes_the_normal_backoff(
    live_runtime, restaurant, fake_catalog, worker
):
    fake_catalog.fail(r"/branches$", status=429, times=1, headers={"Retry-After": "120"})
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "succeeded", timeout=10)  # far from 120 s
    assert job.attempts == 2
    assert fake_catalog.request_count(f"{DEMO}/branches") == 2


def test_a_catalog_that_keeps_answering_429_ends_in_the_dead_letters_not_in_a_loop(
    live_runtime, settings, restaurant, fake_catalog, worker
):
    fake_catalog.fail(r"/branches$", status=429, headers={"Retry-After": "1"})
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "dead", timeout=30)
    assert job.attempts == settings.queue_retry_attempts + 1
    assert "429" in job.error
    assert live_runtime.redis.zcard(f"{settings.redis_namespace}:bootstrap.XQ") == 1


@pytest.mark.parametrize("settings", [{"catalog_breaker_cooldown_ms": 2000}], indirect=True)
def test_with_the_breaker_open_the_job_waits_for_the_trial_and_succeeds_once_the_catalog_recovers(
    live_runtime, settings, restaurant, fake_catalog, worker, caplog
):
    fake_catalog.fail(DEMO, status=503)
    for _ in range(settings.catalog_breaker_failures):
        with pytest.raises(CatalogError):
            live_runtime.catalog.categories("demo-merchant")
    assert live_runtime.catalog_breaker.state("demo-merchant") == "open"
    fake_catalog.clear_faults()  # the catalog is back; the breaker does not know yet
    fake_catalog.clear_requests()
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "succeeded")
    assert job.attempts <= settings.queue_retry_attempts  # never near the dead letters
    assert "merchant demo-merchant is open" in caplog.text  # refused while open
    # Nothing reached the catalog while the breaker was open: one request per page.
    assert sorted(r.target for r in fake_catalog.requests) == [
        f"{DEMO}/branches",
        f"{DEMO}/categories",
        f"{DEMO}/categories?page=2",
    ]
    assert live_runtime.catalog_breaker.state("demo-merchant") == "closed"


@pytest.fixture
def cache_redis(live_runtime, settings):
    """A Redis of its own for the runtime's cache tier, so a test can stop it mid-run."""
    with EmbeddedRedis() as server:
        client = make_redis(server.url)
        cache = TwoTierCache.from_settings(settings, client)
        live_runtime.override("cache", cache)
        yield server
        cache.close()  # its purge listener, before the client it listens with
        client.close()


def test_redis_failing_during_the_cache_write_is_logged_and_the_job_still_succeeds(
    live_runtime, restaurant, fake_catalog, cache_redis, worker, caplog
):
    fake_catalog.latency = 0.3
    caplog.set_level(logging.WARNING, logger="cache.two_tier")
    send_bootstrap(**payload(restaurant))
    # Redis goes away while the catalog is answering: after the lock, before the write.
    assert fake_catalog.requests.wait_until(lambda requests: len(requests) > 0, timeout=10)
    cache_redis.stop()
    job = single_job(live_runtime, "succeeded")
    assert job.attempts == 1
    assert (job.result["categories"], job.result["branches"]) == (12, 3)
    assert "cache write failed (Redis), the caller goes on" in caplog.text


def test_an_arabic_merchant_and_menu_are_warmed_intact(
    live_runtime, settings, fake_catalog, fake_twilio, worker, caplog
):
    merchant_id = "مطعم-الديوان"
    fake_catalog.catalog.set_merchant(
        merchant_id,
        categories=[{"id": "مشاوي", "name": "مشويات"}, {"id": "حلا", "name": "حلويات"}],
        branches=[{"id": "١", "name": "العليا", "address": "الرياض", "hours": "١٢-٢٤"}],
    )
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings, merchant_id=merchant_id)
    send_bootstrap(**payload(restaurant, "٩٦٦٥١١١١١١١"))
    job = single_job(live_runtime, "succeeded")
    assert (job.result["categories"], job.result["branches"]) == (2, 1)
    assert [c["name"] for c in live_runtime.catalog.peek_categories(merchant_id)] == [
        "مشويات",
        "حلويات",
    ]
    assert live_runtime.catalog.peek_branches(merchant_id)[0]["hours"] == "١٢-٢٤"
    assert f"welcome bootstrap done merchant={merchant_id}" in caplog.text


def test_retries_exhausted_dead_letter_the_job(
    live_runtime, settings, restaurant, fake_catalog, worker
):
    fake_catalog.fail(r"/branches$", status=500)
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "dead", timeout=30)
    assert job.attempts == settings.queue_retry_attempts + 1
    assert "branches" in job.error
    dead = live_runtime.redis.zcard(f"{settings.redis_namespace}:bootstrap.XQ")
    assert dead == 1


def test_a_job_that_fetched_nothing_says_which_parts_failed_not_partly_done(
    live_client, live_runtime, settings, fake_catalog, worker
):
    with live_runtime.transaction() as session:
        plain = factories.restaurant(session, settings)  # no template: two parts to fetch
    fake_catalog.fail(DEMO, status=503)
    send_bootstrap(**payload(plain))
    job = single_job(live_runtime, "dead", timeout=30)
    assert (job.progress_done, job.progress_total) == (0, 2)
    assert job.progress_step == "failed: categories, branches"


def test_a_job_whose_branches_failed_says_it_is_partly_done_and_what_failed(
    live_runtime, restaurant, fake_catalog, worker
):
    fake_catalog.fail(r"/branches$", status=404)  # permanent: the job ends after this attempt
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "failed")
    assert (job.progress_done, job.progress_total) == (2, 3)  # categories and the template
    assert job.progress_step == "partly done; failed: branches"


def test_a_permanent_catalog_error_fails_the_job_at_once(
    live_runtime, restaurant, fake_catalog, worker
):
    fake_catalog.fail(r"/categories$", status=404)
    send_bootstrap(**payload(restaurant))
    job = single_job(live_runtime, "failed")
    assert job.attempts == 1
    dead = live_runtime.redis.zcard(f"{live_runtime.settings.redis_namespace}:bootstrap.XQ")
    assert dead == 1  # SPEC §5.6: failed at once, and dead-lettered


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("r1", "demo-merchant", CUSTOMER, "2025-10-20T15:30:00.000Z"), {}),  # positional
        ((), None),
        ((), ["restaurant_id"]),
    ],
    ids=["positional-arguments", "null-kwargs", "list-kwargs"],
)
def test_a_message_whose_arguments_do_not_fit_fails_at_once_and_the_worker_goes_on(
    live_client, live_runtime, restaurant, fake_catalog, worker, args, kwargs
):
    import dramatiq

    from actors.bootstrap import welcome_bootstrap
    from tests.support.processes import on_rabbitmq
    from tests.usage_api.conftest import admin_headers

    message = dramatiq.Message(
        queue_name="bootstrap", actor_name="welcome_bootstrap", args=args, kwargs=kwargs, options={}
    )
    welcome_bootstrap.broker.enqueue(message)
    job = single_job(live_runtime, "failed")
    assert job.id == message.message_id
    assert job.attempts == 1
    assert "malformed message for welcome_bootstrap" in job.error
    assert fake_catalog.request_count() == 0
    # The worker's threads survived it: a good bootstrap still runs.
    send_bootstrap(**payload(restaurant))
    wait_for_jobs(live_runtime, lambda found: len(found) == 2 and found[1].status == "succeeded")
    if not on_rabbitmq():  # the dead letters are listed on Redis only
        with live_runtime.transaction() as session:
            admin = admin_headers(session)
        listed = live_client.get("/api/admin/dead-letters", headers=admin)
        assert listed.status_code == 200
        [letter] = listed.get_json()["data"]
        assert letter["id"] == message.message_id
        if kwargs is not None and not isinstance(kwargs, dict):
            assert letter["args"]["kwargs"] == {"__not_a_mapping__": kwargs}  # shown as sent
        deleted = live_client.delete(f"/api/admin/dead-letters/{message.message_id}", headers=admin)
        assert deleted.status_code == 204


def test_a_template_twilio_refuses_is_not_asked_for_again_by_every_bootstrap(
    live_runtime, restaurant, fake_twilio, fake_catalog, worker
):
    fake_twilio.fail(status=404, code=20404, path_regex=r"/v1/Content/")
    send_bootstrap(**payload(restaurant))
    first = single_job(live_runtime, "succeeded")
    assert first.result["templates"] == 0
    fake_twilio.clear()
    send_bootstrap(**payload(restaurant, "+966522222222"))
    found = wait_for_jobs(
        live_runtime, lambda found: len(found) == 2 and found[1].status == "succeeded"
    )
    assert found[1].result["cacheHits"] == 2
    assert len(fake_twilio.requests) == 0  # the refusal is remembered
