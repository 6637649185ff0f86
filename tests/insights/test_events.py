"""Which events a conversation writes (SPEC §12, "Exact rules")."""

import datetime as dt

import pytest
from sqlalchemy import select

from bot.inbound import InboundMessage, Inbox
from insights.events import normalise_text
from store.models import Message
from store.restaurants import update_restaurant
from store.timeutil import utcnow
from tests.insights.conftest import CUSTOMER, MERCHANT, kinds, say, stored_events, warm
from tests.support import factories
from tests.support.twilio import STATUS_URL, new_sid, post_signed
from tests.support.waiting import wait_until


def details(db_session, kind):
    return [e.detail for e in stored_events(db_session) if e.kind == kind]


def test_a_first_message_writes_message_in_that_opened_a_conversation_and_welcome_sent(
    client, db_session, settings, restaurant, fake_twilio
):
    say(client, settings, restaurant, "hi")
    [message_in, welcome] = stored_events(db_session)
    assert (message_in.kind, message_in.detail) == (
        "message_in",
        {"opened": True, "returning": False},
    )
    assert welcome.kind == "welcome_sent"
    inbound = db_session.scalars(select(Message).where(Message.direction == "inbound")).one()
    for event in (message_in, welcome):
        assert event.restaurant_id == restaurant.id
        assert event.customer_id == inbound.customer_id
        assert event.conversation_id == inbound.conversation_id
        assert event.occurred_at == inbound.created_at
        assert event.batch_id is None  # waiting in the open batch


def test_browsing_writes_what_was_shown(
    client, db_session, settings, restaurant, runtime, fake_twilio, fake_catalog
):
    categories = warm(runtime)
    branches = runtime.catalog.branches(MERCHANT)
    for text in ("hi", "menu", "2", "branches", "1", "99"):
        say(client, settings, restaurant, text)
    assert kinds(db_session) == [
        "message_in", "welcome_sent",
        "message_in", "menu_shown",
        "message_in", "category_opened",
        "message_in", "branches_shown",
        "message_in", "branch_chosen",
        "message_in", "unknown_option",
    ]  # fmt: skip
    assert details(db_session, "category_opened") == [{"categoryId": str(categories[1]["id"])}]
    assert details(db_session, "branch_chosen") == [{"branchId": str(branches[0]["id"])}]
    assert details(db_session, "message_in")[1:] == [None] * 5


def test_text_the_bot_does_not_understand_writes_unrecognised_text_and_help_shown(
    client, db_session, settings, restaurant, fake_twilio
):
    say(client, settings, restaurant, "hi")
    say(client, settings, restaurant, "  Do you  DELIVER to flat 12, 3rd floor?  ")
    assert kinds(db_session)[2:] == ["message_in", "unrecognised_text", "help_shown"]
    assert details(db_session, "unrecognised_text") == [
        {"text": "do you deliver to flat #, #rd floor?"}
    ]


@pytest.mark.parametrize(
    "text", ["help", "HELP!", "مساعدة", "", "Hello!", "السلام عليكم"], ids=repr
)
def test_asking_for_help_greeting_or_sending_no_text_writes_only_help_shown(
    client, db_session, settings, restaurant, fake_twilio, text
):
    say(client, settings, restaurant, "hi")
    say(client, settings, restaurant, text)
    assert kinds(db_session)[2:] == ["message_in", "help_shown"]


def test_a_number_no_list_waits_for_is_an_unknown_option(
    client, db_session, settings, restaurant, fake_twilio
):
    say(client, settings, restaurant, "hi")
    say(client, settings, restaurant, "7")
    assert kinds(db_session)[2:] == ["message_in", "unknown_option", "help_shown"]
    say(client, settings, restaurant, "9")  # out of range of the help list just shown
    assert kinds(db_session)[5:] == ["message_in", "unknown_option"]


def test_stop_and_start_write_opted_out_and_opted_in(
    client, db_session, settings, restaurant, fake_twilio
):
    say(client, settings, restaurant, "hi")
    say(client, settings, restaurant, "STOP")
    say(client, settings, restaurant, "menu")  # opted out: ignored, writes nothing
    say(client, settings, restaurant, "start")
    assert kinds(db_session)[2:] == ["message_in", "opted_out", "message_in", "opted_in"]


def test_a_first_message_stop_opens_a_conversation_without_a_welcome(
    client, db_session, settings, restaurant, fake_twilio
):
    say(client, settings, restaurant, "stop")
    assert [(e.kind, e.detail) for e in stored_events(db_session)] == [
        ("message_in", {"opened": True, "returning": False}),
        ("opted_out", None),
    ]


def test_a_redelivered_webhook_writes_no_event(
    client, db_session, settings, restaurant, fake_twilio
):
    form = say(client, settings, restaurant, "hi")
    response = post_signed(client, settings.twilio_auth_token, form)
    assert response.status_code == 200
    assert kinds(db_session) == ["message_in", "welcome_sent"]


def test_a_throttled_message_writes_only_throttled_even_after_its_events_were_written(
    client, db_session, settings, fake_twilio
):
    restaurant = factories.restaurant(db_session, settings, daily_limit=1)
    say(client, settings, restaurant, "hi")
    say(client, settings, restaurant, "menu")
    assert kinds(db_session) == ["message_in", "welcome_sent", "throttled"]


def test_messages_for_an_inactive_restaurant_write_nothing(
    client, db_session, settings, restaurant, fake_twilio
):
    update_restaurant(db_session, settings, restaurant.id, is_active=False)
    db_session.flush()
    say(client, settings, restaurant, "hi")
    assert kinds(db_session) == []


def test_a_customer_back_after_a_day_opens_a_conversation_as_a_returning_customer(
    db_session, runtime, restaurant, fake_twilio
):
    inbox = Inbox(runtime.reception.inbox.allowance, runtime.catalog_peek)
    tenant = runtime.tenants.by_id(restaurant.id)
    monday = utcnow() - dt.timedelta(days=3)
    for at, text in ((monday, "hi"), (monday + dt.timedelta(hours=25), "hello again")):
        message = InboundMessage(new_sid(), CUSTOMER, restaurant.whatsapp_number, text)
        inbox.receive(db_session, tenant, message, at)
    opened = [e.detail for e in stored_events(db_session) if e.kind == "message_in"]
    assert opened == [{"opened": True, "returning": False}, {"opened": True, "returning": True}]


def test_a_reply_composed_by_a_worker_writes_its_events_at_the_inbound_message_time(
    live_client, live_runtime, settings, fake_twilio, fake_catalog, worker
):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings, merchant_id=MERCHANT)
    say(live_client, settings, restaurant, "hi")
    fake_twilio.wait_for(1)
    live_runtime.catalog.purge(MERCHANT)
    say(live_client, settings, restaurant, "menu")
    fake_twilio.wait_for(2)

    def menu_shown():
        with live_runtime.transaction() as session:
            return "menu_shown" in kinds(session)

    assert wait_until(menu_shown)
    with live_runtime.transaction() as session:
        events = stored_events(session)
        inbound = session.scalars(
            select(Message).where(Message.direction == "inbound").order_by(Message.id)
        ).all()
    assert [e.kind for e in events] == [
        "message_in", "welcome_sent", "message_in", "reply_deferred", "menu_shown",
    ]  # fmt: skip
    assert events[-1].occurred_at == inbound[1].created_at
    assert events[-1].conversation_id == inbound[1].conversation_id


def test_a_send_that_fails_for_good_writes_one_delivery_failed_with_its_error_code(
    client, db_session, settings, restaurant, fake_twilio
):
    fake_twilio.fail(status=400, code=63016, times=1)
    say(client, settings, restaurant, "hi")
    assert details(db_session, "delivery_failed") == [{"errorCode": "63016"}]


def test_a_failed_status_callback_writes_one_delivery_failed_and_a_repeat_writes_none(
    client, db_session, settings, restaurant, fake_twilio
):
    say(client, settings, restaurant, "hi")
    sid = db_session.scalar(select(Message.sid).where(Message.direction == "outbound"))
    form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "63024"}
    for _ in range(2):
        response = post_signed(client, settings.twilio_auth_token, form, url=STATUS_URL)
        assert response.status_code == 200
    later = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "63024"}
    post_signed(client, settings.twilio_auth_token, later, url=STATUS_URL)
    assert details(db_session, "delivery_failed") == [{"errorCode": "63024"}]


def test_a_delivered_status_writes_no_event(client, db_session, settings, restaurant, fake_twilio):
    say(client, settings, restaurant, "hi")
    sid = db_session.scalar(select(Message.sid).where(Message.direction == "outbound"))
    form = {"MessageSid": sid, "MessageStatus": "delivered"}
    post_signed(client, settings.twilio_auth_token, form, url=STATUS_URL)
    assert kinds(db_session) == ["message_in", "welcome_sent"]


def test_with_insight_events_off_the_webhook_writes_none(db_session, engine, settings, fake_twilio):
    from bot import create_app
    from bot.runtime import Runtime

    quiet = Runtime(
        settings.replace(insight_events=False),
        engine=engine,
        session_factory=db_session.info["factory"],
    )
    try:
        restaurant = factories.restaurant(db_session, settings)
        client = create_app(runtime=quiet).test_client()
        say(client, settings, restaurant, "hi")
        say(client, settings, restaurant, "what?")
        assert kinds(db_session) == []
        assert len(fake_twilio.sent()) == 2  # the conversation itself goes on
    finally:
        quiet.close_clients()


def test_the_events_insert_is_one_statement_before_the_counter_updates(
    client, db_session, settings, restaurant, fake_twilio, engine
):
    from sqlalchemy import event

    say(client, settings, restaurant, "hi")
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        say(client, settings, restaurant, "what is this")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    inserts = [n for n, sql in enumerate(seen) if sql.startswith("insert into conversation_events")]
    counters = [n for n, sql in enumerate(seen) if "daily_usage" in sql or "monthly_usage" in sql]
    assert len(inserts) == 1
    assert seen[inserts[0]].count("values") == 1  # one multi-row INSERT (two events)
    assert inserts[0] < min(counters)
    assert len(kinds(db_session)) == 5


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ("Do you  DELIVER?", "do you deliver?"),
        ("  My number is +966 50 123 4567  ", "my number is +# # # #"),
        ("هل  يوجد توصيل؟", "هل يوجد توصيل؟"),
        ("رقمي ٠٥٠١٢٣٤٥٦٧", "رقمي #"),
        ("ＦＵＬＬ　ｗｉｄｔｈ １２３", "full width #"),
        ("card 4111-1111-1111-1111\tok", "card #-#-#-# ok"),
        ("x" * 100, "x" * 64),
        ("Line\none\r\n\ttwo", "line one two"),
    ],
)
def test_unrecognised_texts_are_normalised_so_no_number_is_kept(body, kept):
    assert normalise_text(body) == kept
