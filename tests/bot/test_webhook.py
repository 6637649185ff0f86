"""The WhatsApp webhook as Twilio, customers and restaurants see it (SPEC §4)."""

import json

import pytest
from sqlalchemy import func, select

from bot import create_app
from bot.runtime import Runtime
from store.models import Conversation, Customer, DailyUsage, Job, Message, MonthlyUsage
from tests.support import factories
from tests.support.twilio import WEBHOOK_URL, inbound_form, post_signed, signature

CUSTOMER = "+966511111111"
WELCOME_SID = "HX" + "1" * 32


@pytest.fixture
def restaurant(db_session, settings):
    return factories.restaurant(db_session, settings, welcome_content_sid=WELCOME_SID)


def post(client, settings, form):
    return post_signed(client, settings.twilio_auth_token, form)


def messages(db_session, direction=None):
    query = select(Message).order_by(Message.id)
    if direction:
        query = query.where(Message.direction == direction)
    return db_session.scalars(query).all()


def count(db_session, model):
    return db_session.scalar(select(func.count()).select_from(model))


def test_the_first_message_gets_the_welcome_template_at_once(
    client, settings, restaurant, fake_twilio, db_session
):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER, body="hi")
    response = post(client, settings, form)

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).endswith("<Response/>")
    [sent] = fake_twilio.sent()
    assert sent["From"] == f"whatsapp:{restaurant.whatsapp_number}"
    assert sent["To"] == f"whatsapp:{CUSTOMER}"
    assert sent["ContentSid"] == WELCOME_SID
    assert json.loads(sent["ContentVariables"]) == {"1": restaurant.name, "2": "Sara"}
    assert "Body" not in sent
    assert "StatusCallback" not in sent  # PUBLIC_BASE_URL is unset
    inbound, outbound = messages(db_session)
    assert (inbound.direction, inbound.status, inbound.sid) == (
        "inbound",
        "received",
        form["MessageSid"],
    )
    assert (outbound.direction, outbound.status, outbound.sid) == ("outbound", "sent", sent["sid"])
    assert outbound.content_sid == WELCOME_SID


def test_the_welcome_enqueues_the_bootstrap_job_with_its_payload(
    client, settings, restaurant, fake_twilio, db_session
):
    post(client, settings, inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER))
    job = db_session.scalars(select(Job)).one()
    assert (job.actor, job.queue, job.status) == ("welcome_bootstrap", "bootstrap", "queued")
    kwargs = job.payload["kwargs"]
    assert kwargs["restaurant_id"] == restaurant.id
    assert kwargs["merchant_id"] == restaurant.merchant_id
    assert kwargs["customer"] == CUSTOMER
    assert kwargs["requested_at"].endswith("Z")
    assert job.enqueued_at is not None


def test_status_callback_url_is_public_base_url_plus_whatsapp_status(
    settings, engine, db_session, restaurant, fake_twilio
):
    behind_proxy = settings.replace(public_base_url="https://bot.example")
    runtime = Runtime(behind_proxy, engine=engine, session_factory=db_session.info["factory"])
    app = create_app(runtime=runtime)
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
    url = "https://bot.example/whatsapp/webhook"
    response = app.test_client().post(
        "/whatsapp/webhook",
        data=form,
        headers={"X-Twilio-Signature": signature(settings.twilio_auth_token, url, form)},
    )
    runtime.close_clients()
    assert response.status_code == 200
    assert fake_twilio.sent()[0]["StatusCallback"] == "https://bot.example/whatsapp/status"


def test_a_restaurant_without_a_template_gets_a_plain_text_welcome(
    client, settings, db_session, fake_twilio
):
    plain = factories.restaurant(db_session, settings, name="Burger Bros")
    post(client, settings, inbound_form(to=plain.whatsapp_number, sender=CUSTOMER))
    [sent] = fake_twilio.sent()
    assert "ContentSid" not in sent
    assert "Burger Bros" in sent["Body"]


def test_a_repeated_delivery_changes_nothing_and_sends_nothing(
    client, settings, restaurant, fake_twilio, db_session
):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
    first = post(client, settings, form)
    again = post(client, settings, form)
    assert first.status_code == again.status_code == 200
    assert len(fake_twilio.sent()) == 1
    assert len(messages(db_session, "inbound")) == 1
    assert count(db_session, Job) == 1
    assert db_session.scalars(select(DailyUsage)).one().message_count == 1
    assert db_session.scalars(select(MonthlyUsage)).one().conversation_count == 1


def test_a_second_message_continues_the_conversation_with_help(
    client, settings, restaurant, fake_twilio, db_session
):
    to = restaurant.whatsapp_number
    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="hi"))
    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="what?"))
    _welcome, help_reply = fake_twilio.sent()
    assert "MENU" in help_reply["Body"]
    assert "القائمة" in help_reply["Body"]
    assert count(db_session, Conversation) == 1
    month = db_session.scalars(select(MonthlyUsage)).one()
    assert (month.conversation_count, month.message_count) == (1, 2)


def test_a_message_without_text_gets_the_help_message(client, settings, restaurant, fake_twilio):
    to = restaurant.whatsapp_number
    post(client, settings, inbound_form(to=to, sender=CUSTOMER))
    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="", NumMedia="1"))
    assert "MENU" in fake_twilio.sent()[1]["Body"]


@pytest.mark.parametrize(
    ("case", "change"),
    [
        ("missing", lambda headers, form: headers.pop("X-Twilio-Signature")),
        ("wrong", lambda headers, form: headers.update({"X-Twilio-Signature": "bm9wZQ=="})),
        ("tampered", lambda headers, form: form.update({"Body": "changed after signing"})),
        ("extra field", lambda headers, form: form.update({"Injected": "1"})),
    ],
)
def test_a_bad_signature_is_refused_with_403_and_stores_nothing(
    client, settings, restaurant, fake_twilio, db_session, case, change
):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
    headers = {"X-Twilio-Signature": signature(settings.twilio_auth_token, WEBHOOK_URL, form)}
    change(headers, form)
    response = client.post("/whatsapp/webhook", data=form, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert messages(db_session) == []
    assert fake_twilio.sent() == []


def test_the_signature_covers_the_query_string(client, settings, restaurant, fake_twilio):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
    signed_without_query = signature(settings.twilio_auth_token, WEBHOOK_URL, form)
    refused = client.post(
        "/whatsapp/webhook?tenant=x",
        data=form,
        headers={"X-Twilio-Signature": signed_without_query},
    )
    assert refused.status_code == 403
    url = WEBHOOK_URL + "?tenant=x"
    accepted = client.post(
        "/whatsapp/webhook?tenant=x",
        data=form,
        headers={"X-Twilio-Signature": signature(settings.twilio_auth_token, url, form)},
    )
    assert accepted.status_code == 200


@pytest.mark.parametrize("field", ["MessageSid", "From", "To"])
def test_a_form_missing_a_required_field_is_a_400(client, settings, restaurant, db_session, field):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
    del form[field]
    response = post(client, settings, form)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_parameter"
    assert field in response.get_json()["error"]["message"]
    assert messages(db_session) == []


def test_an_unknown_number_is_a_404_and_logged(client, settings, db_session, caplog):
    form = inbound_form(to="+15550001234", sender=CUSTOMER)
    response = post(client, settings, form)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert "+15550001234" in caplog.text


def test_a_body_over_64_kib_is_a_413_before_the_signature(client, restaurant):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER, body="x" * 70_000)
    response = client.post("/whatsapp/webhook", data=form)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_unknown_extra_parameters_are_normal(client, settings, restaurant, fake_twilio):
    form = inbound_form(
        to=restaurant.whatsapp_number, sender=CUSTOMER, ReferralNumMedia="0", Latitude="24.7"
    )
    assert post(client, settings, form).status_code == 200
    assert len(fake_twilio.sent()) == 1


def test_an_opaque_whatsapp_user_id_is_a_valid_sender(
    client, settings, restaurant, fake_twilio, db_session
):
    form = inbound_form(to=restaurant.whatsapp_number, sender="wa-user-3f9a")
    assert post(client, settings, form).status_code == 200
    assert db_session.scalars(select(Customer)).one().address == "wa-user-3f9a"
    assert fake_twilio.sent()[0]["To"] == "whatsapp:wa-user-3f9a"


def test_an_inactive_restaurant_stores_the_message_without_reply(
    client, settings, runner, restaurant, fake_twilio, db_session
):
    runner.invoke(args=["restaurants", "update", restaurant.id, "--inactive"])
    client.application.extensions["runtime"].tenants.forget()
    response = post(client, settings, inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER))
    assert response.status_code == 200
    [inbound] = messages(db_session)
    assert inbound.status == "ignored"
    assert fake_twilio.sent() == []
    assert count(db_session, Job) == 0
    assert count(db_session, DailyUsage) == 0


def test_a_disabled_bot_stores_the_message_without_reply(
    client, settings, runner, restaurant, fake_twilio, db_session
):
    runner.invoke(args=["restaurants", "update", restaurant.id, "--bot-disabled"])
    client.application.extensions["runtime"].tenants.forget()
    post(client, settings, inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER))
    assert [m.status for m in messages(db_session)] == ["ignored"]
    assert fake_twilio.sent() == []


def test_stop_opts_out_confirms_once_and_start_opts_back_in(
    client, settings, restaurant, fake_twilio, db_session
):
    to = restaurant.whatsapp_number
    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="hello"))
    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="STOP"))
    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="menu"))
    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="stop"))
    assert len(fake_twilio.sent()) == 2  # welcome, then the one opt-out confirmation
    assert "START" in fake_twilio.sent()[1]["Body"]
    assert db_session.scalars(select(Customer)).one().opted_out_at is not None
    assert [m.status for m in messages(db_session, "inbound")] == [
        "received", "received", "ignored", "ignored",
    ]  # fmt: skip

    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="start"))
    db_session.expire_all()
    assert db_session.scalars(select(Customer)).one().opted_out_at is None
    assert "Welcome back" in fake_twilio.sent()[2]["Body"]


def test_arabic_stop_and_start_words_work(client, settings, restaurant, fake_twilio, db_session):
    to = restaurant.whatsapp_number
    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="إيقاف"))
    assert db_session.scalars(select(Customer)).one().opted_out_at is not None
    post(client, settings, inbound_form(to=to, sender=CUSTOMER, body="ابدأ"))
    db_session.expire_all()
    assert db_session.scalars(select(Customer)).one().opted_out_at is None


def test_a_first_message_stop_opens_a_conversation_and_gets_only_the_confirmation(
    client, settings, restaurant, fake_twilio, db_session
):
    post(
        client, settings, inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER, body="Stop")
    )
    [confirmation] = fake_twilio.sent()
    assert "ContentSid" not in confirmation
    assert count(db_session, Conversation) == 1
    assert count(db_session, Job) == 0
    assert db_session.scalars(select(MonthlyUsage)).one().message_count == 1
