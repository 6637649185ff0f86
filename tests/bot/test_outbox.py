"""The outbox: a failed or timed-out send is delivered later, exactly once (SPEC §4.5)."""

import time

import pytest
from sqlalchemy import select

from store.models import Customer, Message
from tests.support import factories
from tests.support.dead_letters import letters_when_listed
from tests.support.twilio import STATUS_URL, inbound_form, new_sid, post_signed
from tests.support.waiting import wait_until

CUSTOMER = "+966511111111"
WELCOME_SID = "HX" + "2" * 32


@pytest.fixture
def restaurant(live_runtime, settings):
    with live_runtime.transaction() as session:
        return factories.restaurant(session, settings, welcome_content_sid=WELCOME_SID)


def first_message(live_client, settings, restaurant, sender=CUSTOMER):
    form = inbound_form(to=restaurant.whatsapp_number, sender=sender)
    response = post_signed(live_client, settings.twilio_auth_token, form)
    assert response.status_code == 200
    return form


def outbound(live_runtime):
    with live_runtime.transaction() as session:
        return session.scalars(
            select(Message).where(Message.direction == "outbound").order_by(Message.id)
        ).all()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda twilio: twilio.fail(status=500, code=20500, times=1), id="500"),
        pytest.param(
            lambda twilio: twilio.fail(
                status=429, code=20429, times=2, headers={"Retry-After": "1"}
            ),
            id="429 twice",
        ),
        pytest.param(lambda twilio: twilio.drop(times=1), id="connection dropped"),
    ],
)
def test_a_failed_welcome_is_delivered_later_exactly_once(
    live_client, live_runtime, settings, restaurant, fake_twilio, worker, fault
):
    fault(fake_twilio)
    first_message(live_client, settings, restaurant)
    [delivered] = fake_twilio.wait_for(1)
    assert delivered["ContentSid"] == WELCOME_SID
    assert wait_until(lambda: outbound(live_runtime)[0].status == "sent")
    time.sleep(0.3)  # nothing more arrives
    assert len(fake_twilio.sent()) == 1
    [row] = outbound(live_runtime)
    assert row.sid == delivered["sid"]
    assert row.send_attempts >= 2


def test_the_webhook_still_answers_200_when_twilio_fails(
    live_client, settings, restaurant, fake_twilio, live_runtime
):
    fake_twilio.fail(status=503, code=20503)
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
    assert post_signed(live_client, settings.twilio_auth_token, form).status_code == 200
    [row] = outbound(live_runtime)
    assert row.status == "queued"
    assert row.error_code == "20503"
    assert row.next_attempt_at is not None


def test_a_timed_out_welcome_is_retried_once_and_arrives_once(
    live_client, live_runtime, settings, restaurant, fake_twilio, worker
):
    # The first send times out (Twilio got it, we never heard); the retry is answered.
    fake_twilio.timeout(seconds=1.0, times=1)
    first_message(live_client, settings, restaurant)
    assert wait_until(lambda: outbound(live_runtime)[0].status == "sent")
    [row] = outbound(live_runtime)
    assert row.send_timeouts == 1
    assert len(fake_twilio.sent()) == 1


def test_a_send_that_times_out_twice_is_given_up_and_logged(
    live_client, live_runtime, settings, restaurant, fake_twilio, worker, caplog
):
    fake_twilio.timeout(seconds=0.7, times=2)
    from bot.messenger import make_messenger

    live_runtime.override("worker_messenger", make_messenger(settings, 0.5))
    first_message(live_client, settings, restaurant)
    assert wait_until(lambda: outbound(live_runtime)[0].status == "failed")
    [row] = outbound(live_runtime)
    assert (row.send_timeouts, row.error_code) == (2, "timeout")
    assert "timed out 2 times" in caplog.text


@pytest.mark.parametrize(("code", "opted_out"), [(21211, False), (63016, False), (21610, True)])
def test_permanent_twilio_errors_are_recorded_and_not_retried(
    live_client, live_runtime, settings, restaurant, fake_twilio, worker, code, opted_out
):
    fake_twilio.fail(status=400, code=code)
    first_message(live_client, settings, restaurant)
    [row] = outbound(live_runtime)
    assert (row.status, row.error_code) == ("failed", str(code))
    time.sleep(0.5)
    assert len(fake_twilio.messages) == 1  # the one refused attempt, no retry
    with live_runtime.transaction() as session:
        customer = session.scalars(select(Customer)).one()
        assert (customer.opted_out_at is not None) == opted_out


def test_the_request_and_the_actor_racing_send_a_row_once(
    live_runtime, settings, restaurant, fake_twilio, broker
):
    """Two senders claim the same queued row at once: only one of them sends it."""
    import threading

    from bot import delivery, outbox
    from bot.messenger import Outgoing
    from store.timeutil import utcnow

    with live_runtime.transaction() as session:
        customer = Customer(restaurant_id=restaurant.id, address=CUSTOMER, created_at=utcnow())
        session.add(customer)
        session.flush()
        item = outbox.add_outbound(
            session,
            restaurant_id=restaurant.id,
            customer_id=customer.id,
            conversation_id=None,
            outgoing=Outgoing(restaurant.whatsapp_number, CUSTOMER, body="hello"),
            now=utcnow(),
            claimed=False,
        )
    outcomes = []

    def send():
        outcomes.append(
            delivery.redeliver(
                live_runtime.sessions,
                live_runtime.messenger,
                item.message_id,
                final=False,
                retry_delay_ms=10,
            )
        )

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("sent") == 1
    assert len(fake_twilio.sent()) == 1


def test_status_callbacks_only_move_forward(
    live_client, live_runtime, settings, restaurant, fake_twilio
):
    first_message(live_client, settings, restaurant)
    [row] = outbound(live_runtime)

    def callback(status, **extra):
        form = {"MessageSid": row.sid, "MessageStatus": status, "AccountSid": "AC1", **extra}
        return post_signed(live_client, settings.twilio_auth_token, form, url=STATUS_URL)

    for status, expected in [
        ("delivered", "delivered"),
        ("sent", "delivered"),  # a late "sent" never overwrites "delivered"
        ("undelivered", "delivered"),  # failures replace only states before delivered
        ("read", "read"),
        ("delivered", "read"),
    ]:
        assert callback(status).status_code == 200
        assert outbound(live_runtime)[0].status == expected


def test_a_failed_message_stays_failed_whatever_comes_after(
    live_client, live_runtime, settings, restaurant, fake_twilio
):
    first_message(live_client, settings, restaurant)
    [row] = outbound(live_runtime)
    for status, code in [("failed", "30008"), ("sent", ""), ("delivered", ""), ("read", "")]:
        form = {"MessageSid": row.sid, "MessageStatus": status, "ErrorCode": code}
        assert (
            post_signed(live_client, settings.twilio_auth_token, form, url=STATUS_URL).status_code
            == 200
        )
    [row] = outbound(live_runtime)
    assert (row.status, row.error_code) == ("failed", "30008")


def test_a_failed_status_with_21610_opts_the_customer_out(
    live_client, live_runtime, settings, restaurant, fake_twilio
):
    first_message(live_client, settings, restaurant)
    [row] = outbound(live_runtime)
    form = {"MessageSid": row.sid, "MessageStatus": "failed", "ErrorCode": "21610"}
    post_signed(live_client, settings.twilio_auth_token, form, url=STATUS_URL)
    [row] = outbound(live_runtime)
    assert (row.status, row.error_code) == ("failed", "21610")
    with live_runtime.transaction() as session:
        assert session.scalars(select(Customer)).one().opted_out_at is not None


def test_a_status_callback_for_an_unknown_sid_is_200_and_logged(live_client, settings, caplog):
    form = {"MessageSid": new_sid(), "MessageStatus": "delivered"}
    response = post_signed(live_client, settings.twilio_auth_token, form, url=STATUS_URL)
    assert response.status_code == 200
    assert "unknown message" in caplog.text


def test_a_status_callback_with_a_bad_signature_is_403(live_client):
    response = live_client.post(
        "/whatsapp/status",
        data={"MessageSid": new_sid(), "MessageStatus": "read"},
        headers={"X-Twilio-Signature": "bad"},
    )
    assert response.status_code == 403


def test_a_send_failing_past_every_retry_is_a_dead_job_that_an_operator_replays(
    live_client, live_runtime, settings, restaurant, fake_twilio, worker
):
    from store.models import Job
    from tests.support.processes import on_rabbitmq
    from tests.usage_api.conftest import admin_headers

    if on_rabbitmq():
        pytest.skip("dead letters are listed on Redis only")
    fake_twilio.fail(status=503, code=20503)  # Twilio down for longer than every retry
    first_message(live_client, settings, restaurant)

    def delivery_job():
        with live_runtime.transaction() as session:
            return session.scalars(select(Job).where(Job.actor == "deliver_message")).first()

    assert wait_until(lambda: (job := delivery_job()) is not None and job.status == "dead")
    job = delivery_job()
    assert job.restaurant_id == restaurant.id  # the owner sees it among their jobs
    assert job.attempts == settings.queue_retry_attempts + 1
    assert "20503" in job.error
    [row] = outbound(live_runtime)
    assert (row.status, row.sid) == ("failed", None)
    with live_runtime.transaction() as session:
        admin = admin_headers(session)
    letters_when_listed(live_runtime)
    letters = live_client.get("/api/admin/dead-letters", headers=admin).get_json()["data"]
    assert [(letter["id"], letter["restaurantId"]) for letter in letters] == [
        (job.id, restaurant.id)
    ]

    fake_twilio.clear_faults()  # Twilio is back; the operator replays the delivery
    replay = live_client.post(f"/api/admin/dead-letters/{job.id}/retry", headers=admin)
    assert replay.status_code == 202
    assert wait_until(lambda: delivery_job().status == "succeeded")
    [row] = outbound(live_runtime)
    assert row.status == "sent"
    assert len(fake_twilio.sent()) == 1
