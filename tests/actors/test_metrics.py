"""`/api/admin/metrics` (JSON) and `/metrics` (Prometheus): present, and moving after traffic."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import factories
from tests.support.processes import on_rabbitmq
from tests.support.twilio import inbound_form, post_signed
from tests.support.waiting import wait_until


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def assert_matches_the_document(client, snapshot) -> None:
    from tests.usage_api.test_openapi import response_schema, validator

    document = client.get("/api/openapi.json").get_json()
    validator(document, response_schema(document, "/api/admin/metrics", 200)).validate(snapshot)


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.rabbitmq
def test_the_metrics_json_shows_queues_jobs_and_workers_and_moves_after_traffic(
    live_client, tenants, send_job, worker, job_row, live_runtime
):
    admin = tenants["admin"]
    before = live_client.get("/api/admin/metrics", headers=admin).get_json()
    assert set(before) >= {
        "queues",
        "deadLetters",
        "jobs",
        "oldestQueuedJob",
        "breakers",
        "cache",
        "workers",
    }
    assert before["jobs"]["byStatus"]["succeeded"] == 0
    assert before["unavailable"] == []
    assert_matches_the_document(live_client, before)
    assert {"bootstrap", "delivery", "replies"} <= set(before["queues"])
    assert before["breakers"]["available"] in (True, False)
    ids = [send_job("slow_job", "test-slow", seconds=0) for _ in range(3)]
    assert wait_until(lambda: all(job_row(i).status == "succeeded" for i in ids))
    after = live_client.get("/api/admin/metrics", headers=admin).get_json()
    assert after["jobs"]["byStatus"]["succeeded"] == 3
    assert after["jobs"]["byActor"]["slow_job"] == {"succeeded": 3}
    assert after["queues"].get("test-slow", {"ready": 0})["ready"] == 0  # drained
    if not on_rabbitmq():
        assert any(w["id"] == worker.broker.broker_id and w["alive"] for w in after["workers"])
    assert live_client.get("/api/admin/metrics", headers=tenants["r1"]).status_code == 403


def test_prometheus_metrics_move_after_webhooks_sends_and_jobs(
    live_client, live_runtime, settings, send_job, worker, job_row, fake_twilio
):
    before = scrape(live_client)
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
    form = inbound_form(to=restaurant.whatsapp_number, sender="+966500000001")
    assert post_signed(live_client, settings.twilio_auth_token, form).status_code == 200
    job_id = send_job("slow_job", "test-slow", seconds=0)
    live_runtime.redis.set(live_runtime.keys("test", "fail", "m"), "1")
    dead_id = send_job("flaky_job", "test-flaky", name="m")
    assert wait_until(lambda: job_row(job_id).status == "succeeded")
    assert wait_until(lambda: job_row(dead_id).status == "dead")
    after = scrape(live_client)
    webhook = dict(route="/whatsapp/webhook", status="200")
    assert value(after, "restaurant_bot_webhook_seconds_count", **webhook) == (
        value(before, "restaurant_bot_webhook_seconds_count", **webhook) + 1
    )
    assert value(after, "restaurant_bot_twilio_sends_total", result="sent", code="") >= 1
    slow = dict(actor="slow_job", outcome="succeeded")
    assert value(after, "restaurant_bot_job_seconds_count", **slow) >= 1
    assert value(after, "restaurant_bot_job_retries_total", actor="flaky_job") >= 3
    assert value(after, "restaurant_bot_dead_letters_total", actor="flaky_job") >= 1
    assert value(after, "restaurant_bot_jobs", status="dead") == 1
    assert value(after, "restaurant_bot_queue_messages", queue="test-flaky", state="dead") == 1


def test_prometheus_metrics_carry_no_tenant_identifiers(
    live_client, live_runtime, settings, fake_twilio
):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings, restaurant_id="tenant-secret-id")
    form = inbound_form(to=restaurant.whatsapp_number, sender="+966500000002")
    post_signed(live_client, settings.twilio_auth_token, form)
    text = live_client.get("/metrics").get_data(as_text=True)
    for identifier in ("tenant-secret-id", restaurant.whatsapp_number, "966500000002"):
        assert identifier not in text
    label_names = set(re.findall(r"[{,]([a-z_]+)=", text))
    assert label_names <= {
        "route",
        "status",
        "result",
        "code",
        "actor",
        "outcome",
        "queue",
        "state",
        "tier",
        "le",
    }


def test_metrics_need_the_token_when_one_is_set(live_runtime, settings):
    from bot import create_app
    from bot.runtime import Runtime

    guarded = Runtime(settings.replace(metrics_token="m3trics-t0ken"), engine=live_runtime.engine)
    client = create_app(runtime=guarded).test_client()
    try:
        missing = client.get("/metrics")
        assert missing.status_code == 401
        assert missing.get_json()["error"]["code"] == "missing_credentials"
        wrong = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401
        assert wrong.get_json()["error"]["code"] == "invalid_credentials"
        assert wrong.headers["WWW-Authenticate"] == "Bearer"
        ok = client.get("/metrics", headers={"Authorization": "Bearer m3trics-t0ken"})
        assert ok.status_code == 200
        any_case = client.get("/metrics", headers={"Authorization": "bearer m3trics-t0ken"})
        assert any_case.status_code == 200
    finally:
        guarded.redis.close()


# A cooldown no slow run outlasts between opening the breaker and reading "open".
@pytest.mark.parametrize("settings", [{"catalog_breaker_cooldown_ms": 60_000}], indirect=True)
def test_the_metrics_show_tripped_breakers_and_cache_hit_rates_of_every_process(
    live_client, tenants, live_runtime, settings
):
    from catalog.errors import CatalogError, ErrorKind

    def fail():
        raise CatalogError("down", kind=ErrorKind.UPSTREAM_FAILURE)

    for _ in range(settings.catalog_breaker_failures):
        with pytest.raises(CatalogError):
            live_runtime.catalog_breaker.call("merchant-x", fail)
    cache = live_runtime.cache
    cache.get_or_load("metrics-test-key", lambda: {"v": 1}, 60_000)  # misses, then loads
    cache.get_or_load("metrics-test-key", lambda: {"v": 1}, 60_000)  # a local hit
    snapshot = live_client.get("/api/admin/metrics", headers=tenants["admin"]).get_json()
    assert snapshot["breakers"] == {
        "available": True,
        "tripped": {"merchant-x": "open"},
        "orders": {},
    }
    local = snapshot["cache"]["tiers"]["local"]
    assert snapshot["cache"]["available"] is True
    assert (local["hits"], local["misses"]) >= (1, 1)
    assert 0 < local["hitRate"] < 1
    text = live_client.get("/metrics").get_data(as_text=True)
    assert 'restaurant_bot_catalog_breakers{state="open"} 1.0' in text
    assert "merchant-x" not in text
    assert 'restaurant_bot_cache_lookups_total{result="hit",tier="local"}' in text


def test_prometheus_metrics_still_answer_when_redis_is_down(live_runtime, settings):
    from bot import create_app
    from bot.runtime import Runtime

    cut_off = Runtime(
        settings.replace(redis_url="redis://127.0.0.1:1/0"), engine=live_runtime.engine
    )
    client = create_app(runtime=cut_off).test_client()
    answer = client.get("/metrics")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert "restaurant_bot_shared_state_up 0.0" in text
    assert "restaurant_bot_jobs{" in text  # the database's figures are still there
    assert "restaurant_bot_queue_messages" not in text


def test_the_metrics_json_answers_what_it_can_when_redis_is_down(live_runtime, settings, tenants):
    from bot import create_app
    from bot.runtime import Runtime

    cut_off = Runtime(
        settings.replace(redis_url="redis://127.0.0.1:1/0"), engine=live_runtime.engine
    )
    client = create_app(runtime=cut_off).test_client()
    answer = client.get("/api/admin/metrics", headers=tenants["admin"])
    assert answer.status_code == 200
    snapshot = answer.get_json()
    assert_matches_the_document(client, snapshot)
    assert {"queues", "workers", "breakers"} <= set(snapshot["unavailable"])
    assert snapshot["queues"] is None
    assert snapshot["deadLetters"] is None
    assert snapshot["jobs"]["byStatus"]["succeeded"] == 0


def test_the_prometheus_answer_names_its_text_format_once(live_client):
    answer = live_client.get("/metrics")
    assert answer.headers["Content-Type"].count("charset") == 1
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
