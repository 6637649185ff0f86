import datetime as dt
import threading

from sqlalchemy import select

from store import counters
from store.counters import UsagePeriod
from store.models import DailyUsage, MonthlyUsage
from store.restaurants import create_restaurant
from store.timeutil import utcnow

NOW = dt.datetime(2025, 10, 20, 15, 30, tzinfo=dt.UTC)


def make_restaurant(session, settings, restaurant_id="r1", timezone="UTC"):
    create_restaurant(
        session, settings, restaurant_id=restaurant_id, name="R",
        whatsapp_number=f"+9665000{abs(hash(restaurant_id)) % 100000:05d}",
        merchant_id="m", timezone=timezone,
    )  # fmt: skip
    session.flush()


def daily(session, day):
    return session.scalars(select(DailyUsage).where(DailyUsage.date == day)).one()


def month(session, year, month_number):
    query = select(MonthlyUsage).where(
        MonthlyUsage.year == year, MonthlyUsage.month == month_number
    )
    return session.scalars(query).one()


def test_the_usage_period_follows_the_restaurants_zone():
    late_evening_utc = dt.datetime(2025, 10, 31, 21, 30, tzinfo=dt.UTC)
    riyadh = UsagePeriod.of(late_evening_utc, "Asia/Riyadh")
    assert (riyadh.day, riyadh.year, riyadh.month) == (dt.date(2025, 11, 1), 2025, 11)
    utc = UsagePeriod.of(late_evening_utc, "UTC")
    assert (utc.day, utc.month) == (dt.date(2025, 10, 31), 10)


def test_daily_messages_are_counted_up_to_the_limit_then_refused(db_session, settings):
    make_restaurant(db_session, settings)
    period = UsagePeriod.of(NOW, "UTC")
    taken = [counters.take_daily_message(db_session, "r1", period, 3) for _ in range(5)]
    assert taken == [True, True, True, False, False]
    assert daily(db_session, period.day).message_count == 3


def test_a_zero_daily_limit_refuses_everything(db_session, settings):
    make_restaurant(db_session, settings)
    assert not counters.take_daily_message(db_session, "r1", UsagePeriod.of(NOW, "UTC"), 0)


def test_conversations_are_counted_up_to_the_monthly_limit(db_session, settings):
    make_restaurant(db_session, settings)
    period = UsagePeriod.of(NOW, "UTC")
    opened = [
        counters.record_month(
            db_session, "r1", period, NOW, messages=1, opens_conversation=True, monthly_limit=2
        )
        for _ in range(3)
    ]
    assert opened == [True, True, False]
    row = month(db_session, 2025, 10)
    assert (row.conversation_count, row.message_count) == (2, 2)
    assert row.last_conversation_at == NOW


def test_an_open_conversation_goes_on_at_the_monthly_limit(db_session, settings):
    make_restaurant(db_session, settings)
    period = UsagePeriod.of(NOW, "UTC")
    counters.record_month(db_session, "r1", period, NOW, opens_conversation=True, monthly_limit=1)
    assert counters.record_month(db_session, "r1", period, NOW, messages=1, monthly_limit=1)
    assert month(db_session, 2025, 10).message_count == 1


def test_activity_bounds_take_the_earliest_and_latest_moments(db_session, settings):
    make_restaurant(db_session, settings)
    period = UsagePeriod.of(NOW, "UTC")
    later, earlier = NOW + dt.timedelta(hours=1), NOW - dt.timedelta(hours=1)
    for moment in (NOW, later, earlier):
        counters.record_month(db_session, "r1", period, moment)
    row = month(db_session, 2025, 10)
    assert (row.first_message_at, row.last_message_at) == (earlier, later)
    assert (row.conversation_count, row.message_count) == (0, 0)


def test_concurrent_writers_never_pass_the_daily_limit(live_runtime, settings):
    with live_runtime.transaction() as session:
        make_restaurant(session, settings)
    period = UsagePeriod.of(utcnow(), "UTC")
    results: list[bool] = []
    lock = threading.Lock()

    def take():
        with live_runtime.transaction() as session:
            taken = counters.take_daily_message(session, "r1", period, 10)
        with lock:
            results.append(taken)

    threads = [threading.Thread(target=take) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 10
    with live_runtime.transaction() as session:
        assert daily(session, period.day).message_count == 10
