"""Twilio retries, simultaneous messages, Redis outages and hostile input (SPEC §4)."""

import datetime as dt
import functools

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import create_app
from bot.jobs import relay_jobs
from bot.runtime import Runtime
from localdev.embedded_redis import EmbeddedRedis
from store.models import Conversation, Job, Message
from tests.support import factories
from tests.support.threads import at_once
from tests.support.twilio import inbound_form, post_signed

CUSTOMER = "+966511111111"


@pytest.fixture
def restaurant(live_runtime, settings):
    with live_runtime.transaction() as session:
        return factories.restaurant(session, settings, welcome_content_sid="HX" + "3" * 32)


def count(live_runtime, model, *where):
    with live_runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def in_parallel(target, forms):
    return at_once([functools.partial(target, form) for form in forms])


def test_the_same_message_sid_from_ten_threads_makes_one_row_and_one_welcome(
    live_app, live_runtime, settings, restaurant, fake_twilio
):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
    statuses = in_parallel(
        lambda f: post_signed(live_app.test_client(), settings.twilio_auth_token, f).status_code,
        [dict(form) for _ in range(10)],
    )
    assert statuses == [200] * 10
    assert count(live_runtime, Message, Message.direction == "inbound") == 1
    assert len(fake_twilio.sent()) == 1
    assert count(live_runtime, Job) == 1


def test_two_first_messages_of_one_customer_at_once_make_one_conversation_and_one_welcome(
    live_app, live_runtime, settings, restaurant, fake_twilio
):
    forms = [
        inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER, body=text)
        for text in ("hi", "hello")
    ]
    statuses = in_parallel(
        lambda f: post_signed(live_app.test_client(), settings.twilio_auth_token, f).status_code,
        forms,
    )
    assert statuses == [200, 200]
    assert count(live_runtime, Conversation) == 1
    welcomes = [m for m in fake_twilio.sent() if m.get("ContentSid")]
    assert len(welcomes) == 1
    assert count(live_runtime, Message, Message.direction == "inbound") == 2


def test_with_redis_down_the_message_is_stored_welcomed_and_its_job_enqueued_later(
    settings, engine, live_runtime, restaurant, fake_twilio, caplog
):
    with EmbeddedRedis() as private:
        runtime = Runtime(settings.replace(redis_url=private.url), engine=engine)
        client = create_app(runtime=runtime).test_client()
        private.stop()

        form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
        response = post_signed(client, settings.twilio_auth_token, form)

        assert response.status_code == 200
        assert count(live_runtime, Message, Message.sid == form["MessageSid"]) == 1
        assert len(fake_twilio.sent()) == 1  # the welcome still went out
        assert "per-minute allowance unavailable" in caplog.text
        with live_runtime.transaction() as session:
            job = session.scalars(select(Job)).one()
        assert job.enqueued_at is None  # deferred, not lost

        private.start()  # Redis is back: the relay hands the job over
        assert relay_jobs(runtime.sessions, runtime.broker, older_than=dt.timedelta(0)) == 1
        with live_runtime.transaction() as session:
            job = session.scalars(select(Job)).one()
        assert job.enqueued_at is not None
        assert runtime.redis.llen(f"{settings.redis_namespace}:bootstrap") == 1
        runtime.close()


def test_a_welcome_that_failed_while_redis_was_down_too_is_relayed_at_the_next_tick(
    settings, engine, live_runtime, restaurant, fake_twilio
):
    from bot.delivery import relay_outbox

    with EmbeddedRedis() as private:
        runtime = Runtime(settings.replace(redis_url=private.url), engine=engine)
        client = create_app(runtime=runtime).test_client()
        private.stop()
        fake_twilio.fail(status=503, code=20503, times=1)  # Twilio down as well

        form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER)
        assert post_signed(client, settings.twilio_auth_token, form).status_code == 200
        with live_runtime.transaction() as session:
            row = session.scalars(select(Message).where(Message.direction == "outbound")).one()
        assert row.status == "queued"  # its retry could not be enqueued either

        private.start()  # Redis is back: the relay's next tick hands the retry over
        assert relay_outbox(runtime.sessions, runtime.broker) == 1
        queue = f"{settings.redis_namespace}:delivery"
        assert runtime.redis.llen(queue) + runtime.redis.llen(f"{queue}.DQ") == 1
        runtime.close()


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_text,
    profile=_text,
    button=st.one_of(st.none(), _text),
    sid=st.one_of(st.just(None), st.text(max_size=80)),
    sender=st.one_of(st.just(CUSTOMER), st.text(max_size=200)),
    extra=st.dictionaries(st.text(min_size=1, max_size=20), _text, max_size=4),
)
def test_hostile_form_fields_never_give_a_500(
    live_client, settings, restaurant, fake_twilio, body, profile, button, sid, sender, extra
):
    form = inbound_form(to=restaurant.whatsapp_number, sender="+966500000000", body=body)
    form.update({k: v for k, v in extra.items() if k not in form})
    form["ProfileName"] = profile
    form["From"] = sender if sid is None else f"whatsapp:{sender}"
    if button is not None:
        form["ButtonPayload"] = button
    if sid is not None:
        form["MessageSid"] = sid
    response = post_signed(live_client, settings.twilio_auth_token, form)
    assert response.status_code in (200, 400, 404), response.get_data(as_text=True)
    if response.status_code != 200:
        assert set(response.get_json()["error"]) == {"code", "message"}
