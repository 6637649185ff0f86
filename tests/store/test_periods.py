import datetime as dt

import pytest

from store.periods import (
    Period,
    PeriodError,
    day_start,
    default_period,
    local_slot,
    parse_period,
)

NOW = dt.datetime(2026, 3, 10, 21, 30, tzinfo=dt.UTC)


def test_the_default_period_is_the_seven_local_days_ending_today():
    # 21:30 UTC is already the 11th in Riyadh (+3).
    period = default_period(NOW, "Asia/Riyadh")
    assert (period.first, period.last, period.days) == (
        dt.date(2026, 3, 5),
        dt.date(2026, 3, 11),
        7,
    )


def test_a_whole_hour_zone_maps_local_days_to_exact_utc_hours():
    period = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 2), "Asia/Riyadh")
    assert period.utc_hours() == (
        dt.datetime(2026, 2, 28, 21, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 2, 21, tzinfo=dt.UTC),
    )


def test_a_half_hour_zone_rounds_the_boundary_down_to_the_utc_hour_containing_it():
    # Local midnight in Kolkata (+5:30) is 18:30 UTC: the day starts with the 18:00 hour.
    assert day_start(dt.date(2026, 3, 1), "Asia/Kolkata") == dt.datetime(
        2026, 2, 28, 18, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    "timezone", ["UTC", "Asia/Riyadh", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"]
)
def test_every_utc_hour_of_a_local_day_stands_for_that_day(timezone):
    day = dt.date(2026, 3, 1)
    start, end = Period(day, day, timezone).utc_hours()
    hours = []
    moment = start
    while moment < end:
        slot_day, slot_hour = local_slot(moment, timezone)
        assert slot_day == day
        hours.append(slot_hour)
        moment += dt.timedelta(hours=1)
    assert hours == list(range(24))


def test_the_utc_hour_holding_a_half_hour_midnight_stands_for_the_new_day():
    assert local_slot(dt.datetime(2026, 2, 28, 18, tzinfo=dt.UTC), "Asia/Kolkata") == (
        dt.date(2026, 3, 1),
        0,
    )


def test_a_day_of_a_daylight_saving_change_has_23_hours():
    day = dt.date(2026, 3, 8)  # clocks go forward in New York
    start, end = Period(day, day, "America/New_York").utc_hours()
    assert end - start == dt.timedelta(hours=23)


def test_the_previous_period_has_the_same_length_and_ends_the_day_before():
    period = Period(dt.date(2026, 3, 5), dt.date(2026, 3, 11), "UTC")
    assert period.previous() == Period(dt.date(2026, 2, 26), dt.date(2026, 3, 4), "UTC")


def test_a_period_of_366_days_is_served_and_one_of_367_is_refused():
    assert parse_period("2025-03-11", "2026-03-11", now=NOW, timezone="UTC").days == 366
    with pytest.raises(PeriodError, match="367 days"):
        parse_period("2025-03-10", "2026-03-11", now=NOW, timezone="UTC")


def test_from_after_to_is_refused():
    with pytest.raises(PeriodError, match="after"):
        parse_period("2026-03-02", "2026-03-01", now=NOW, timezone="UTC")


@pytest.mark.parametrize("raw", ["2026-3-1", "2026-02-30", "yesterday", "2026-03-01T00:00", ""])
def test_a_date_that_is_not_yyyy_mm_dd_is_refused(raw):
    with pytest.raises(PeriodError):
        parse_period(raw, None, now=NOW, timezone="UTC")


def test_a_missing_from_means_the_seven_days_ending_to():
    period = parse_period(None, "2026-03-01", now=NOW, timezone="UTC")
    assert (period.first, period.last) == (dt.date(2026, 2, 23), dt.date(2026, 3, 1))


def test_the_default_period_knows_it_is_the_default():
    assert default_period(NOW, "UTC").is_default(NOW)
    assert not parse_period("2026-03-01", None, now=NOW, timezone="UTC").is_default(NOW)
