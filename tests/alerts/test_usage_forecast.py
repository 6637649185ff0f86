"""`?include=forecast` on the usage endpoints (SPEC §15), from counters only."""

import datetime as dt

import pytest

from store.models import DailyUsage, MonthlyUsage
from store.restaurants import BotLimits
from tests.usage_api.conftest import add_restaurant, admin_headers, owner_headers

EXPECTED = {
    "dailyConversationRate": 10.0,
    "projectedMonthConversations": 360,
    "monthlyLimitReachedOn": "2025-10-25",
    "dailyMessagesRate": 4.0,
    "dailyLimitReachedAt": "2025-10-20T23:15:00.000Z",
}


def hot_restaurant(db_session, settings, restaurant_id="r1", timezone="UTC"):
    """70 conversations in the 7 days before Oct 20, 250 this month of 300; 62 messages
    today by 15:30 (4.00 an hour) against a daily limit of 93."""
    add_restaurant(
        db_session, settings, restaurant_id, timezone=timezone,
        limits=BotLimits(daily_limit=93, monthly_limit=300),
    )  # fmt: skip
    db_session.flush()
    for days_ago in range(1, 9):  # the 8th day back is outside the window
        db_session.add(
            DailyUsage(
                restaurant_id=restaurant_id,
                date=dt.date(2025, 10, 20) - dt.timedelta(days=days_ago),
                message_count=50,
                conversation_count=10 if days_ago <= 7 else 500,
            )
        )
    db_session.add(
        DailyUsage(
            restaurant_id=restaurant_id, date=dt.date(2025, 10, 20), message_count=62,
            conversation_count=3,
        )
    )  # fmt: skip
    db_session.add(
        MonthlyUsage(
            restaurant_id=restaurant_id, year=2025, month=10, conversation_count=250,
            message_count=1000,
        )
    )  # fmt: skip
    db_session.flush()


@pytest.fixture
def admin(db_session, clock):
    return admin_headers(db_session)


def test_an_owner_gets_the_forecast_computed_by_the_spec(client, db_session, settings, clock):
    hot_restaurant(db_session, settings)
    owner = owner_headers(db_session, "r1")
    answer = client.get("/api/usage?include=forecast", headers=owner)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["forecast"] == EXPECTED
    assert list(body)[-1] == "forecast"


def test_without_the_parameter_the_usage_object_is_exactly_section_8s(
    client, db_session, settings, clock
):
    hot_restaurant(db_session, settings)
    owner = owner_headers(db_session, "r1")
    plain = client.get("/api/usage", headers=owner)
    assert list(plain.get_json()) == [
        "restaurantId", "restaurantName", "conversationsThisMonth", "lastConversationAt",
        "allowance", "firstActivity", "lastActivity", "isActive",
    ]  # fmt: skip
    with_forecast = client.get("/api/usage?include=forecast", headers=owner).get_json()
    del with_forecast["forecast"]
    assert with_forecast == plain.get_json()


def test_admins_get_it_on_the_list_and_the_detail(client, db_session, settings, admin):
    hot_restaurant(db_session, settings)
    [item] = client.get("/api/usage?include=forecast", headers=admin).get_json()["data"]
    assert item["forecast"] == EXPECTED
    detail = client.get("/api/usage/r1?include=forecast", headers=admin).get_json()
    assert detail["forecast"] == EXPECTED
    assert len(detail["history"]) == 6


def test_an_unknown_include_is_a_400(client, db_session, settings, admin):
    hot_restaurant(db_session, settings)
    answer = client.get("/api/usage?include=everything", headers=admin)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (400, "invalid_parameter")


def test_the_forecast_costs_the_same_statements_for_1_and_100_restaurants(
    client, db_session, settings, admin, statements
):
    hot_restaurant(db_session, settings, "r000")
    client.get("/api/usage", headers=admin)
    statements.clear()
    client.get("/api/usage?include=forecast&limit=100", headers=admin)
    one = len(statements)
    for n in range(1, 100):
        hot_restaurant(db_session, settings, f"r{n:03d}", timezone="Asia/Riyadh")
    statements.clear()
    answer = client.get("/api/usage?include=forecast&limit=100", headers=admin)
    assert len(answer.get_json()["data"]) == 100
    assert len(statements) == one
    assert statements.touching("messages") == []
