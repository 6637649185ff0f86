"""The owner's Usage page: the pace of SPEC §15 in plain words, read through the same
function as `GET /api/usage?include=forecast`, at a fixed number of statements.

The clock is the usage API's NOW: 2025-10-20 15:30 UTC, 18:30 in Riyadh (18.5 hours
since local midnight; 11 local days left in October after today).
"""

import datetime as dt
import re

import pytest

from store import credentials
from store.models import DailyUsage, MonthlyUsage
from store.restaurants import BotLimits
from tests.dashboard.conftest import sign_in
from tests.usage_api.conftest import add_restaurant, open_conversation

TODAY = dt.date(2025, 10, 20)


def restaurant(
    db_session,
    settings,
    restaurant_id: str,
    *,
    daily_limit: int,
    monthly_limit: int,
    week: int,
    month: int,
    today: int,
) -> None:
    """A Riyadh restaurant with `week` conversations spread over the 7 days before today
    (and a busy 8th day back, outside the window), `month` conversations this month and
    `today` messages today."""
    add_restaurant(
        db_session,
        settings,
        restaurant_id,
        timezone="Asia/Riyadh",
        name="Grill " + restaurant_id,
        limits=BotLimits(daily_limit=daily_limit, monthly_limit=monthly_limit),
    )
    db_session.flush()
    for days_ago in range(1, 9):
        db_session.add(
            DailyUsage(
                restaurant_id=restaurant_id,
                date=TODAY - dt.timedelta(days=days_ago),
                message_count=40,
                conversation_count=week // 7 if days_ago <= 7 else 900,
            )
        )
    if today:
        db_session.add(
            DailyUsage(
                restaurant_id=restaurant_id, date=TODAY, message_count=today, conversation_count=1
            )
        )
    if month:
        db_session.add(
            MonthlyUsage(
                restaurant_id=restaurant_id,
                year=2025,
                month=10,
                conversation_count=month,
                message_count=month * 4,
            )
        )
    db_session.flush()


def owner_of(app, db_session, restaurant_id: str):
    """A browser-like client signed in as the restaurant's owner."""
    token = credentials.create_pat(db_session, restaurant_id=restaurant_id, expires_in_days=None)
    client = app.test_client()
    assert sign_in(client, restaurant_id=restaurant_id, token=token.secret).status_code == 302
    return client


def pace_lines(page: str) -> dict[str, str]:
    """Return the page's two pace sentences, tags removed, by `data-pace`."""
    found = re.findall(r'<p class="pace pace-\w+" data-pace="(\w+)">(.*?)</p>', page, re.S)
    return {name: re.sub(r"<[^>]+>", "", text).strip() for name, text in found}


def test_a_hot_restaurant_is_told_when_it_reaches_each_limit(app, db_session, settings, clock):
    # 70 conversations in 7 days: 10.00 a day; 250 of 300 this month → 50 left, 5 days →
    # 25 October. 74 messages by 18:30 local: 4.00 an hour; 90 − 74 = 16 left, 4 hours →
    # 22:30 in Riyadh (19:30 UTC), before midnight.
    restaurant(
        db_session, settings, "hot", daily_limit=90, monthly_limit=300, week=70, month=250, today=74
    )
    page = owner_of(app, db_session, "hot").get("/dashboard/r/hot/usage").get_data(as_text=True)
    assert pace_lines(page) == {
        "day": "At this pace you reach today's limit at 22:30 (Asia/Riyadh).",
        "month": "At this pace you reach the monthly limit on 25 October.",
    }
    assert '<time datetime="2025-10-20T19:30:00.000Z">22:30</time>' in page
    assert '<time datetime="2025-10-25">25 October</time>' in page
    assert "Pace: 4 messages an hour since midnight (Asia/Riyadh)." in page
    assert "Pace: 10 conversations a day, the average of the 7 days before today." in page


def test_a_calm_restaurant_is_told_it_stays_within_and_roughly_where_it_ends(
    app, db_session, settings, clock
):
    # 10.00 a day: 250 + 10 × 11 = 360 by the month's end, under 1,000. 74 messages at
    # 4.00 an hour: 926 left would take 231 hours, past midnight.
    restaurant(
        db_session, settings, "calm", daily_limit=1000, monthly_limit=1000, week=70, month=250,
        today=74,
    )  # fmt: skip
    page = owner_of(app, db_session, "calm").get("/dashboard/r/calm/usage").get_data(as_text=True)
    assert pace_lines(page) == {
        "day": "At this pace you stay within today's limit.",
        "month": "At this pace you stay within the monthly limit "
        "(about 360 of 1,000 conversations this month).",
    }


def test_a_restaurant_without_history_is_told_there_is_no_pace_yet(
    app, db_session, settings, clock
):
    add_restaurant(db_session, settings, "new", timezone="Asia/Riyadh", name="New Grill")
    page = owner_of(app, db_session, "new").get("/dashboard/r/new/usage").get_data(as_text=True)
    assert pace_lines(page) == {
        "day": "No messages yet today.",
        "month": "No conversations in the 7 days before today, so there is no pace to go by yet.",
    }
    assert "Pace:" not in page  # no rate of nothing


def test_limits_already_reached_are_said_as_reached(app, db_session, settings, clock):
    restaurant(
        db_session, settings, "full", daily_limit=74, monthly_limit=250, week=70, month=250,
        today=74,
    )  # fmt: skip
    page = owner_of(app, db_session, "full").get("/dashboard/r/full/usage").get_data(as_text=True)
    assert pace_lines(page) == {
        "day": "Today's limit is reached: more messages today are throttled until midnight "
        "(Asia/Riyadh).",
        "month": "This month's limit is reached: new conversations are throttled until the "
        "month ends.",
    }


@pytest.mark.parametrize(
    ("limits", "week", "expected"),
    [((90, 300), 70, "25 October"), ((1000, 1000), 70, None), ((1000, 1000), 0, None)],
)
def test_the_page_says_what_the_api_answers(
    app, client, db_session, settings, clock, limits, week, expected
):
    restaurant(
        db_session, settings, "r9", daily_limit=limits[0], monthly_limit=limits[1], week=week,
        month=250, today=74,
    )  # fmt: skip
    token = credentials.create_pat(db_session, restaurant_id="r9", expires_in_days=None)
    headers = {"Authorization": f"Bearer {token.secret}", "X-Restaurant-Id": "r9"}
    api = client.get("/api/usage?include=forecast", headers=headers).get_json()["forecast"]
    page = owner_of(app, db_session, "r9").get("/dashboard/r/r9/usage").get_data(as_text=True)
    reached_on = api["monthlyLimitReachedOn"]
    assert (reached_on and dt.date.fromisoformat(reached_on).strftime("%-d %B")) == expected
    if reached_on:
        assert f'<time datetime="{reached_on}">{expected}</time>' in page
    elif week:
        assert f"about {api['projectedMonthConversations']:,} of 1,000 conversations" in page
    if api["dailyLimitReachedAt"]:
        assert f'<time datetime="{api["dailyLimitReachedAt"]}">' in page


def more_history(db_session, restaurant_id: str, days: int) -> None:
    """Many more days of counters and many more conversations today."""
    for back in range(9, 9 + days):
        db_session.add(
            DailyUsage(
                restaurant_id=restaurant_id,
                date=TODAY - dt.timedelta(days=back),
                message_count=30,
                conversation_count=7,
            )
        )
    for month in range(1, 10):
        db_session.add(
            MonthlyUsage(
                restaurant_id=restaurant_id,
                year=2025,
                month=month,
                conversation_count=100,
                message_count=400,
            )
        )
    db_session.flush()


def test_the_usage_page_costs_the_same_statements_with_little_and_much_history(
    app, db_session, settings, clock, statements
):
    restaurant(
        db_session, settings, "hot", daily_limit=90, monthly_limit=300, week=70, month=250, today=74
    )
    owner = owner_of(app, db_session, "hot")
    owner.get("/dashboard/r/hot/usage")  # the session's first use is recorded once
    statements.clear()
    assert owner.get("/dashboard/r/hot/usage").status_code == 200
    little = len(statements)
    more_history(db_session, "hot", 300)
    for _ in range(40):
        open_conversation(db_session, "hot", dt.datetime(2025, 10, 20, 12, tzinfo=dt.UTC))
    statements.clear()
    assert owner.get("/dashboard/r/hot/usage").status_code == 200
    assert len(statements) == little
    # The session with its credential; the usage read model (restaurant, months, today,
    # activity bounds); the pace (zones, the recent days) — besides the test's SAVEPOINTs.
    sql = [s for s in statements.statements if "SAVEPOINT" not in s]
    assert len(sql) == 7, sql
