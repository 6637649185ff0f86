"""The pace formulas of SPEC §15, checked against hand-computed figures."""

import datetime as dt
from decimal import Decimal

from alerts.forecast import day_pace, forecast, month_pace


def test_the_month_pace_projects_the_rate_of_the_last_seven_days():
    # 70 conversations in the 7 days before Oct 20 → 10.00 a day; 11 days left after today.
    rate, projected, reached = month_pace(
        conversations_last_7_days=70,
        conversations_this_month=150,
        monthly_limit=300,
        today=dt.date(2025, 10, 20),
    )
    assert rate == Decimal("10.00")
    assert projected == 150 + 10 * 11  # 260: stays within the month
    assert reached is None


def test_a_hot_month_reaches_its_limit_on_the_first_day_the_pace_gets_there():
    # 10 a day from 250: 260, 270, … 300 on the 5th day after Oct 20 → Oct 25.
    _rate, projected, reached = month_pace(
        conversations_last_7_days=70,
        conversations_this_month=250,
        monthly_limit=300,
        today=dt.date(2025, 10, 20),
    )
    assert projected == 360
    assert reached == dt.date(2025, 10, 25)


def test_rates_have_two_decimals_and_projections_round_down():
    # 10 / 7 = 1.428… → 1.43; Feb 2024 (leap): 29 − 10 = 19 days left → 5 + 27.17 → 32.
    rate, projected, reached = month_pace(
        conversations_last_7_days=10,
        conversations_this_month=5,
        monthly_limit=33,
        today=dt.date(2024, 2, 10),
    )
    assert rate == Decimal("1.43")
    assert projected == 32
    assert reached is None  # 28 more at 1.43 a day takes 20 days: March 1st


def test_the_last_day_of_the_month_has_no_days_left():
    rate, projected, reached = month_pace(
        conversations_last_7_days=700,
        conversations_this_month=10,
        monthly_limit=20,
        today=dt.date(2025, 12, 31),
    )
    assert (rate, projected, reached) == (Decimal("100.00"), 10, None)


def test_a_restaurant_three_days_old_counts_the_days_before_it_as_zero():
    # 21 conversations in its 3 days → 21 / 7 = 3.00 a day, not 7.
    rate, projected, _ = month_pace(
        conversations_last_7_days=21,
        conversations_this_month=21,
        monthly_limit=1000,
        today=dt.date(2025, 10, 4),
    )
    assert rate == Decimal("3.00")
    assert projected == 21 + 3 * 27


def test_a_limit_already_reached_is_reached_today_and_now():
    now = dt.datetime(2025, 10, 20, 15, 30, tzinfo=dt.UTC)
    result = forecast(
        now=now,
        timezone="UTC",
        conversations_last_7_days=0,
        conversations_this_month=300,
        monthly_limit=300,
        messages_today=1000,
        daily_limit=1000,
    )
    assert result.monthly_limit_reached_on == dt.date(2025, 10, 20)
    assert result.daily_limit_reached_at == now
    assert result.to_json()["dailyLimitReachedAt"] == "2025-10-20T15:30:00.000Z"


def test_the_daily_rate_is_per_hour_since_local_midnight():
    # Riyadh (+3): 12:00 UTC is 15:00 local, 15 hours in; 300 messages → 20.00 an hour;
    # 200 more to the limit of 500 takes 10 hours → 01:00 local: tomorrow, so null.
    now = dt.datetime(2025, 10, 20, 12, 0, tzinfo=dt.UTC)
    rate, reached_at = day_pace(
        messages_today=300, daily_limit=500, now=now, timezone="Asia/Riyadh"
    )
    assert rate == Decimal("20.00")
    assert reached_at is None
    # A limit of 400: 100 more at 20 an hour → 5 hours → 17:00 UTC (20:00 local).
    rate, reached_at = day_pace(
        messages_today=300, daily_limit=400, now=now, timezone="Asia/Riyadh"
    )
    assert reached_at == dt.datetime(2025, 10, 20, 17, 0, tzinfo=dt.UTC)


def test_the_first_hour_counts_as_one_hour():
    # 00:15 local in Auckland (+13 in October): 15 minutes in, counted as 1 hour.
    now = dt.datetime(2025, 10, 20, 11, 15, tzinfo=dt.UTC)
    rate, reached_at = day_pace(
        messages_today=12, daily_limit=20, now=now, timezone="Pacific/Auckland"
    )
    assert rate == Decimal("12.00")
    assert reached_at == now + dt.timedelta(minutes=40)


def test_a_zone_far_from_utc_uses_its_own_today_and_month():
    # 23:30 UTC on Oct 31 is Nov 1 in Kiritimati (+14): 29 days left after today.
    now = dt.datetime(2025, 10, 31, 23, 30, tzinfo=dt.UTC)
    result = forecast(
        now=now,
        timezone="Pacific/Kiritimati",
        conversations_last_7_days=7,
        conversations_this_month=0,
        monthly_limit=100,
        messages_today=0,
        daily_limit=100,
    )
    assert result.projected_month_conversations == 29
    assert result.monthly_limit_reached_on is None
    assert result.daily_messages_rate == Decimal("0.00")
    assert result.daily_limit_reached_at is None
