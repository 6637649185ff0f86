"""What a worker logs when jobs fail: one WARNING line per expected retry, without a
traceback; ERROR with its traceback only for what nobody expected (issue 11).

Logs of real job runs on an in-process worker (the real broker, the HTTP stand-ins).
"""

import logging
import re

import pytest
from sqlalchemy import select

from store.models import Job
from tests.support import factories
from tests.support.bootstrap import bootstrap_payload, send_bootstrap
from tests.support.twilio import inbound_form, post_signed
from tests.support.waiting import wait_until

DEMO = "/merchants/demo-merchant"
RETRY = re.compile(r"^job (\S+) attempt (\d+) of (\d+) failed, retrying in \d+ ms: (.+)$")


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO)
    return caplog


@pytest.fixture
def restaurant(live_runtime, settings):
    with live_runtime.transaction() as session:
        return factories.restaurant(session, settings, welcome_content_sid="HX" + "7" * 32)


def job_of(live_runtime, actor):
    with live_runtime.read_transaction() as session:
        return session.scalars(select(Job).where(Job.actor == actor)).first()


def settled(live_runtime, actor, *statuses, timeout=30.0):
    return wait_until(
        lambda: getattr(job_of(live_runtime, actor), "status", None) in statuses, timeout=timeout
    )


def warnings_and_worse(caplog):
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def no_tracebacks(caplog):
    return [r for r in caplog.records if r.exc_info or r.exc_text]


def test_a_catalog_outage_logs_one_warning_per_retry_and_no_traceback(
    live_runtime, settings, restaurant, fake_catalog, worker, logs
):
    fake_catalog.fail(DEMO, status=503)  # every request, until the breaker opens
    send_bootstrap(**bootstrap_payload(restaurant, "+966511111111"))
    assert settled(live_runtime, "welcome_bootstrap", "dead")

    attempts = settings.queue_retry_attempts + 1
    assert no_tracebacks(logs) == []
    assert [r for r in logs.records if r.levelno >= logging.ERROR] == []
    retries = [RETRY.match(r.getMessage()) for r in warnings_and_worse(logs)]
    retries = [m for m in retries if m]
    assert [(m[1], int(m[2]), int(m[3])) for m in retries] == [
        ("welcome_bootstrap", n, attempts) for n in range(1, attempts)
    ]
    assert all(m[4].startswith("BootstrapIncomplete: ") for m in retries)
    # Besides the retries: the breaker opening, and the job's end (why, then its row).
    others = [
        r.getMessage()
        for r in warnings_and_worse(logs)
        if not RETRY.match(r.getMessage()) and r.name != "catalog.breaker"
    ]
    assert len(others) == 2, others
    assert others[0].startswith(f"job welcome_bootstrap dead after {attempts} attempts: ")
    assert re.fullmatch(r"job welcome_bootstrap dead \d+ms", others[1])
    # The breaker opened on the way, and a line says so: a call it refused.
    refused = "catalog circuit breaker for merchant demo-merchant is "  # open, or half_open
    assert any(refused in line for line in [*others, *(m[4] for m in retries)])


def test_a_twilio_outage_logs_one_warning_per_delivery_retry_and_no_traceback(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker, logs
):
    fake_twilio.fail(status=500, code=20500, times=3)  # the webhook's send and two retries
    form = inbound_form(to=restaurant.whatsapp_number, sender="+966511111112")
    assert post_signed(live_client, settings.twilio_auth_token, form).status_code == 200
    assert settled(live_runtime, "deliver_message", "succeeded")
    assert settled(live_runtime, "welcome_bootstrap", "succeeded")

    assert no_tracebacks(logs) == []
    lines = [r.getMessage() for r in warnings_and_worse(logs)]
    # The request's failed send, then one line per failed attempt of the delivery job.
    assert lines[0].startswith("send of outbound message ")
    retries = [RETRY.match(line) for line in lines[1:]]
    assert all(retries), lines
    assert [(m[1], int(m[2])) for m in retries] == [("deliver_message", 1), ("deliver_message", 2)]
    assert all(m[4].startswith("SendFailed: outbound message ") for m in retries)
    assert "20500" in retries[0][4]


def test_a_reply_waiting_on_a_catalog_that_is_down_logs_one_warning_per_retry(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker, logs
):
    sender = "+966511111113"
    form = inbound_form(to=restaurant.whatsapp_number, sender=sender)
    assert post_signed(live_client, settings.twilio_auth_token, form).status_code == 200
    assert settled(live_runtime, "welcome_bootstrap", "succeeded")
    live_runtime.catalog.purge("demo-merchant")  # nothing cached: the reply waits for a worker
    fake_catalog.fail(DEMO, status=503, times=2)  # two attempts fail, the third composes
    logs.clear()

    form = inbound_form(to=restaurant.whatsapp_number, sender=sender, body="menu")
    assert post_signed(live_client, settings.twilio_auth_token, form).status_code == 200
    assert settled(live_runtime, "send_deferred_replies", "succeeded")

    assert no_tracebacks(logs) == []
    lines = [r.getMessage() for r in warnings_and_worse(logs)]
    retries = [RETRY.match(line) for line in lines]
    assert all(retries), lines
    assert [(m[1], int(m[2])) for m in retries] == [
        ("send_deferred_replies", 1),
        ("send_deferred_replies", 2),
    ]
    assert all(m[4].startswith("CatalogError: catalog answered 503") for m in retries)


def test_an_unexpected_exception_keeps_its_error_line_with_the_traceback(
    live_runtime, settings, send_job, job_row, worker, logs
):
    live_runtime.redis.set(live_runtime.keys("test", "fail", "bug"), 1)
    job_id = send_job("flaky_job", "test-flaky", name="bug")
    assert wait_until(lambda: job_row(job_id).status == "dead", timeout=30)

    attempts = settings.queue_retry_attempts + 1
    errors = [r for r in logs.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["dramatiq.worker.WorkerThread"] * attempts
    assert all(isinstance(r.exc_info[1], RuntimeError) for r in errors if r.exc_info)
    assert all(r.exc_info for r in errors)
    # The retry lines say what happens next, at INFO: the ERROR lines say what broke.
    retries = [r for r in logs.records if RETRY.match(r.getMessage())]
    assert [r.levelno for r in retries] == [logging.INFO] * (attempts - 1)
    assert retries[0].getMessage().endswith("RuntimeError: bug fails on purpose")
