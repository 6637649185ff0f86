"""Notifications delivered by the worker to real servers: signed webhooks, e-mail through
SMTP, WhatsApp through the outbox; retries, dead letters, replay (SPEC §15)."""

from __future__ import annotations

import json
import time

import pytest

from alerts.deliveries import deliver
from alerts.failures import DeliveryRefused
from alerts.webhook_sender import WebhookSender
from localdev.webhook_receiver import verify
from tests.support import factories
from tests.support.processes import on_rabbitmq
from tests.support.waiting import wait_until
from tests.usage_api.conftest import admin_headers, owner_headers

redis_only = pytest.mark.skipif(on_rabbitmq(), reason="dead letters are replayed on Redis only")


@pytest.fixture
def owner(live_runtime, settings):
    """A committed restaurant, its owner's headers and an admin's."""
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings, restaurant_id="r-alerts")
        headers = owner_headers(session, restaurant.id)
        admin = admin_headers(session)
    return restaurant, headers, admin


def add_channel(client, headers, kind, target):
    answer = client.post(
        "/api/alerts/channels", json={"type": kind, "target": target}, headers=headers
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def notifications(client, headers):
    answer = client.get("/api/notifications", headers=headers)
    assert answer.status_code == 200
    return answer.get_json()["data"]


def settled(client, headers, count=1):
    def check():
        items = notifications(client, headers)
        done = [n for n in items if n["status"] in ("delivered", "failed", "dead")]
        return items if len(done) >= count else None

    return wait_until(check, timeout=60)


def test_a_test_event_reaches_the_webhook_signed_with_the_channels_secret(
    live_client, owner, receiver, worker
):
    _, headers, _ = owner
    channel = add_channel(live_client, headers, "webhook", f"{receiver.url}/hooks/a")
    assert channel["secret"].startswith("whsec_")

    answer = live_client.post("/api/alerts/test", headers=headers)
    assert answer.status_code == 202
    event_id = answer.get_json()["eventId"]

    assert wait_until(lambda: receiver.posts("/hooks/a"), timeout=30)
    [post] = receiver.posts("/hooks/a")
    header = post.headers["X-RestaurantBot-Signature"]
    assert header.startswith("t=")
    assert ",v1=" in header
    assert " " not in header
    assert verify(channel["secret"], header, post.body)
    assert not verify("another secret", header, post.body)
    event = json.loads(post.body)
    assert list(event) == ["id", "type", "restaurantId", "occurredAt", "data"]
    assert (event["id"], event["type"], event["restaurantId"]) == (event_id, "test", "r-alerts")
    [item] = settled(live_client, headers)
    assert (item["eventId"], item["type"], item["channelId"]) == (event_id, "test", channel["id"])
    assert (item["status"], item["attempts"], item["lastError"]) == ("delivered", 1, None)
    assert item["deliveredAt"].endswith("Z")


def test_a_receiver_that_answers_500_once_gets_the_event_on_the_retry(
    live_client, owner, receiver, worker
):
    _, headers, _ = owner
    add_channel(live_client, headers, "webhook", f"{receiver.url}/hooks/flaky")
    receiver.add_fault("fail", "/hooks/flaky", times=1, status=500)
    live_client.post("/api/alerts/test", headers=headers)

    [item] = settled(live_client, headers)
    assert (item["status"], item["attempts"]) == ("delivered", 2)
    first, second = receiver.posts("/hooks/flaky")
    assert json.loads(first.body)["id"] == json.loads(second.body)["id"]  # receivers dedupe


def test_a_receiver_that_closes_the_connection_is_retried(live_client, owner, receiver, worker):
    _, headers, _ = owner
    add_channel(live_client, headers, "webhook", f"{receiver.url}/hooks/drop")
    receiver.add_fault("drop", "/hooks/drop", times=1)
    live_client.post("/api/alerts/test", headers=headers)

    [item] = settled(live_client, headers)
    assert (item["status"], item["attempts"]) == ("delivered", 2)


@pytest.mark.slow
def test_a_receiver_slower_than_five_seconds_is_a_timeout_and_is_retried(
    live_client, owner, receiver, worker
):
    _, headers, _ = owner
    add_channel(live_client, headers, "webhook", f"{receiver.url}/hooks/slow")
    receiver.add_fault("timeout", "/hooks/slow", times=1, seconds=8)
    live_client.post("/api/alerts/test", headers=headers)

    [item] = settled(live_client, headers)
    assert (item["status"], item["attempts"]) == ("delivered", 2)


@redis_only
def test_a_receiver_that_keeps_failing_ends_dead_and_a_replay_delivers_it(
    live_client, owner, receiver, worker
):
    _, headers, admin = owner
    add_channel(live_client, headers, "webhook", f"{receiver.url}/hooks/down")
    fault = receiver.add_fault("fail", "/hooks/down", status=503)
    live_client.post("/api/alerts/test", headers=headers)

    [item] = settled(live_client, headers)
    assert (item["status"], item["attempts"], item["lastError"]) == ("dead", 4, "HTTP 503")

    # The row says "dead" when the last attempt fails; the worker moves the message to the
    # dead letters right after, so on a slow machine the list can lag the row a moment.
    def letter_ids():
        letters = live_client.get("/api/admin/dead-letters", headers=admin).get_json()["data"]
        return [letter["id"] for letter in letters] or None

    assert wait_until(letter_ids, timeout=30) == [item["id"]]

    receiver.faults.clear()
    del fault
    answer = live_client.post(f"/api/admin/dead-letters/{item['id']}/retry", headers=admin)
    assert answer.status_code == 202
    assert wait_until(
        lambda: notifications(live_client, headers)[0]["status"] == "delivered", timeout=30
    )


def test_a_webhook_whose_name_resolves_to_a_private_address_fails_for_good(
    live_runtime, owner, receiver
):
    restaurant, _, _ = owner
    from alerts.channels import create_channel
    from alerts.events import emit
    from store.timeutil import utcnow

    with live_runtime.transaction() as session:
        create_channel(
            session,
            restaurant.id,
            {"type": "webhook", "target": f"http://localhost:{receiver.port}/hooks/private"},
            secrets=live_runtime.secret_box,
            allow_private=True,  # as if it was created while allowed
            now=utcnow(),
        )
        [job] = emit(session, "test", restaurant.id, {"message": "x"}, utcnow())
    notifiers = live_runtime.notifiers
    strict = WebhookSender(allow_private=False)
    live_runtime.override("notifiers", type(notifiers)(**{**notifiers.__dict__, "webhook": strict}))
    with pytest.raises(DeliveryRefused, match=r"127\.0\.0\.1"):
        deliver(live_runtime.sessions, live_runtime.notifiers, job.id, final=False)
    strict.close()
    assert receiver.posts("/hooks/private") == []
    with live_runtime.read_transaction() as session:
        from alerts.models import NotificationDelivery

        row = session.get(NotificationDelivery, job.id)
        assert (row.status, row.attempts) == ("failed", 1)


def test_an_email_goes_through_the_smtp_server(live_client, owner, smtp_server, worker):
    _, headers, _ = owner
    add_channel(live_client, headers, "email", "owner@example.com")
    event_id = live_client.post("/api/alerts/test", headers=headers).get_json()["eventId"]

    [item] = settled(live_client, headers)
    assert item["status"] == "delivered"
    [mail] = smtp_server.messages()
    assert mail.recipients == ["owner@example.com"]
    assert mail.sender == "alerts@restaurant-bot.example"
    assert mail.message["X-RestaurantBot-Event-Id"] == event_id
    assert "test" in mail.message["Subject"]


def test_an_address_the_smtp_server_refuses_with_550_fails_without_retries(
    live_client, owner, smtp_server, worker
):
    _, headers, _ = owner
    smtp_server.refuse.add("gone@example.com")
    add_channel(live_client, headers, "email", "gone@example.com")
    live_client.post("/api/alerts/test", headers=headers)

    [item] = settled(live_client, headers)
    assert (item["status"], item["attempts"]) == ("failed", 1)
    assert "550" in item["lastError"]


def test_whatsapp_goes_to_the_owner_from_the_restaurants_number(
    live_client, owner, fake_twilio, worker
):
    restaurant, headers, _ = owner
    add_channel(live_client, headers, "whatsapp", "+966522222222")
    live_client.post("/api/alerts/test", headers=headers)

    [item] = settled(live_client, headers)
    assert item["status"] == "delivered"
    [sent] = fake_twilio.sent()
    assert sent["From"] == f"whatsapp:{restaurant.whatsapp_number}"
    assert sent["To"] == "whatsapp:+966522222222"
    assert "test" in sent["Body"]


def test_a_deleted_channel_gets_nothing_more(live_client, owner, receiver, worker):
    _, headers, _ = owner
    channel = add_channel(live_client, headers, "webhook", f"{receiver.url}/hooks/gone")
    answer = live_client.delete(f"/api/alerts/channels/{channel['id']}", headers=headers)
    assert answer.status_code == 204
    live_client.post("/api/alerts/test", headers=headers)
    time.sleep(0.3)
    assert notifications(live_client, headers) == []
    assert receiver.posts("/hooks/gone") == []
