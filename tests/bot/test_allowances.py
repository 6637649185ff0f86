"""Allowances: per minute (Redis), per day and per month (durable counters)."""

import datetime as dt

from sqlalchemy import func, select

from bot.inbound import AllowanceRefused, InboundMessage, Inbox
from bot.tenants import Tenant
from store.models import Conversation, DailyUsage, Job, Message, MonthlyUsage
from tests.support import factories
from tests.support.twilio import inbound_form, new_sid, post_signed


def post(client, settings, to, sender, body="hello"):
    return post_signed(
        client, settings.twilio_auth_token, inbound_form(to=to, sender=sender, body=body)
    )


def statuses(db_session):
    rows = db_session.scalars(
        select(Message.status).where(Message.direction == "inbound").order_by(Message.id)
    )
    return list(rows)


def test_over_the_per_minute_allowance_messages_are_throttled_silently(
    client, settings, db_session, fake_twilio
):
    restaurant = factories.restaurant(db_session, settings, per_minute_limit=3)
    for body in ("hi", "a", "b", "c", "d"):
        assert (
            post(client, settings, restaurant.whatsapp_number, "+966511111111", body).status_code
            == 200
        )
    assert statuses(db_session) == ["received", "received", "received", "throttled", "throttled"]
    assert len(fake_twilio.sent()) == 3  # welcome + two help replies, nothing for throttled
    assert db_session.scalars(select(DailyUsage)).one().message_count == 3
    assert db_session.scalars(select(MonthlyUsage)).one().message_count == 3


def test_the_per_minute_allowance_is_per_restaurant(client, settings, db_session, fake_twilio):
    first = factories.restaurant(db_session, settings, per_minute_limit=1)
    second = factories.restaurant(db_session, settings, per_minute_limit=1)
    post(client, settings, first.whatsapp_number, "+966511111111")
    post(client, settings, second.whatsapp_number, "+966511111111")
    assert statuses(db_session) == ["received", "received"]


def test_over_the_daily_allowance_messages_are_throttled_and_not_counted(
    client, settings, db_session, fake_twilio
):
    restaurant = factories.restaurant(db_session, settings, daily_limit=2)
    for sender in ("+966511111111", "+966522222222", "+966533333333"):
        post(client, settings, restaurant.whatsapp_number, sender)
    assert statuses(db_session) == ["received", "received", "throttled"]
    assert db_session.scalar(select(func.count()).select_from(Conversation)) == 2
    assert db_session.scalar(select(func.count()).select_from(Job)) == 2
    month = db_session.scalars(select(MonthlyUsage)).one()
    assert (month.conversation_count, month.message_count) == (2, 2)


def test_at_the_monthly_allowance_only_new_conversations_are_throttled(
    client, settings, db_session, fake_twilio
):
    restaurant = factories.restaurant(db_session, settings, monthly_limit=1)
    to = restaurant.whatsapp_number
    post(client, settings, to, "+966511111111", "hi")
    post(client, settings, to, "+966522222222", "hi")  # would open a second conversation
    post(client, settings, to, "+966511111111", "help")  # the open one goes on
    assert statuses(db_session) == ["received", "throttled", "received"]
    month = db_session.scalars(select(MonthlyUsage)).one()
    assert (month.conversation_count, month.message_count) == (1, 2)
    assert db_session.scalar(select(func.count()).select_from(Conversation)) == 1


def test_a_throttled_message_starts_no_conversation(client, settings, db_session, fake_twilio):
    restaurant = factories.restaurant(db_session, settings, daily_limit=0)
    post(client, settings, restaurant.whatsapp_number, "+966511111111")
    assert statuses(db_session) == ["throttled"]
    assert db_session.scalar(select(func.count()).select_from(Conversation)) == 0
    assert fake_twilio.sent() == []


class _NoCatalog:
    def categories(self, merchant_id):
        return None

    def branches(self, merchant_id):
        return None

    def products(self, merchant_id, category_id):
        return None


def receive_at(runtime, db_session, tenant, moment, sender="+966511111111"):
    inbox = Inbox(_Allowance(), _NoCatalog())
    message = InboundMessage(new_sid(), sender, tenant.whatsapp_number, "hi")
    try:
        with db_session.begin_nested():
            return inbox.receive(db_session, tenant, message, moment)
    except AllowanceRefused:
        return inbox.receive_throttled(db_session, tenant, message, moment)


class _Allowance:
    def take(self, restaurant_id, message_sid, limit):
        return True

    def give_back(self, restaurant_id, message_sid):
        pass


def test_the_daily_allowance_resets_at_midnight_in_the_restaurants_zone(
    runtime, db_session, settings
):
    restaurant = factories.restaurant(db_session, settings, timezone="Asia/Riyadh", daily_limit=1)
    tenant = Tenant.of(restaurant, settings)
    # 20:59 UTC is 23:59 in Riyadh; 21:00 UTC is midnight there.
    before = dt.datetime(2025, 10, 20, 20, 59, tzinfo=dt.UTC)
    after = dt.datetime(2025, 10, 20, 21, 0, tzinfo=dt.UTC)
    assert receive_at(runtime, db_session, tenant, before).status == "received"
    assert receive_at(runtime, db_session, tenant, before, "+966500000009").status == "throttled"
    assert receive_at(runtime, db_session, tenant, after, "+966500000009").status == "received"
    days = db_session.scalars(select(DailyUsage.date).order_by(DailyUsage.date)).all()
    assert days == [dt.date(2025, 10, 20), dt.date(2025, 10, 21)]


def test_the_monthly_allowance_resets_with_the_restaurants_month(runtime, db_session, settings):
    restaurant = factories.restaurant(db_session, settings, timezone="Asia/Riyadh", monthly_limit=1)
    tenant = Tenant.of(restaurant, settings)
    october_end = dt.datetime(2025, 10, 31, 20, 0, tzinfo=dt.UTC)  # 23:00 Riyadh, Oct 31
    november = dt.datetime(2025, 10, 31, 21, 30, tzinfo=dt.UTC)  # 00:30 Riyadh, Nov 1
    assert receive_at(runtime, db_session, tenant, october_end).status == "received"
    assert receive_at(runtime, db_session, tenant, october_end, "+9665002").status == "throttled"
    assert receive_at(runtime, db_session, tenant, november, "+9665002").status == "received"
    months = db_session.execute(
        select(MonthlyUsage.year, MonthlyUsage.month, MonthlyUsage.conversation_count).order_by(
            MonthlyUsage.month
        )
    ).all()
    assert [tuple(m) for m in months] == [(2025, 10, 1), (2025, 11, 1)]


def test_a_conversation_is_a_24_hour_session_from_the_previous_accepted_message(
    runtime, db_session, settings
):
    restaurant = factories.restaurant(db_session, settings)
    tenant = Tenant.of(restaurant, settings)
    start = dt.datetime(2025, 10, 1, 8, 0, tzinfo=dt.UTC)
    first = receive_at(runtime, db_session, tenant, start)
    later = receive_at(runtime, db_session, tenant, start + dt.timedelta(hours=23))
    # 23 h after the previous accepted message, not 46 h after the first one:
    still = receive_at(runtime, db_session, tenant, start + dt.timedelta(hours=46))
    new = receive_at(runtime, db_session, tenant, start + dt.timedelta(hours=70, minutes=1))
    assert [first.new_conversation, later.new_conversation, still.new_conversation] == [
        True, False, False,
    ]  # fmt: skip
    assert new.new_conversation
    assert first.conversation_id == later.conversation_id == still.conversation_id
    assert new.conversation_id != first.conversation_id
