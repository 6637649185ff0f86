import datetime as dt
import re

import pytest

from store.restaurants import BotLimits, update_restaurant
from tests.usage_api.conftest import (
    NOW,
    add_restaurant,
    admin_headers,
    inbound_message,
    open_conversation,
    outbound_message,
    owner_headers,
)

# The usage object as SPEC §8 shows it.
SPEC_EXAMPLE = {
    "restaurantId": "clxyz123abc",
    "restaurantName": "Example Restaurant",
    "conversationsThisMonth": 45,
    "lastConversationAt": "2025-10-20T15:30:00.000Z",
    "allowance": {
        "dailyLimit": 1000,
        "dailyRemaining": 1000,
        "monthlyLimit": 30000,
        "monthlyRemaining": 29955,
    },
    "firstActivity": "2025-09-01T08:00:00.000Z",
    "lastActivity": "2025-10-20T15:30:00.000Z",
    "isActive": True,
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def assert_shaped_like(actual, example):
    """Same keys in the same order, same JSON types; timestamps in the spec's format."""
    assert list(actual) == list(example)
    for key, expected in example.items():
        value = actual[key]
        if isinstance(expected, dict):
            assert_shaped_like(value, expected)
        elif isinstance(expected, str) and TIMESTAMP.match(expected):
            assert value is None or TIMESTAMP.match(value), (key, value)
        else:
            assert type(value) is type(expected), (key, value)


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture
def owner(db_session, settings, clock):
    add_restaurant(db_session, settings, "r1", name="Al Diwan / الديوان")
    return owner_headers(db_session, "r1")


@pytest.fixture
def admin(db_session):
    return admin_headers(db_session)


def own_usage(client, headers):
    response = client.get("/api/usage", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def detail(client, headers, restaurant_id="r1"):
    response = client.get(f"/api/usage/{restaurant_id}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_the_usage_object_has_exactly_the_keys_and_types_of_the_spec_example(
    client, db_session, owner
):
    open_conversation(db_session, "r1", at("2025-09-01T08:00:00"))
    open_conversation(db_session, "r1", NOW - dt.timedelta(hours=1))
    body = own_usage(client, owner)
    assert_shaped_like(body, SPEC_EXAMPLE)
    assert all(body[key] is not None for key in SPEC_EXAMPLE)


def test_an_owner_reads_this_months_conversations_and_what_is_left_of_the_allowances(
    client, db_session, owner, clock
):
    first = at("2025-10-02T09:00:00.123456")
    latest = at("2025-10-20T14:00:00.500")
    open_conversation(db_session, "r1", first)
    open_conversation(db_session, "r1", latest)
    inbound_message(db_session, "r1", at("2025-10-20T14:05:00"), count=3)
    outbound_message(db_session, "r1", at("2025-10-20T14:05:01.999"))
    assert own_usage(client, owner) == {
        "restaurantId": "r1",
        "restaurantName": "Al Diwan / الديوان",
        "conversationsThisMonth": 2,
        "lastConversationAt": "2025-10-20T14:00:00.500Z",
        "allowance": {
            "dailyLimit": 1000,
            "dailyRemaining": 1000 - 4,  # today: the conversation's first message and 3 more
            "monthlyLimit": 30000,
            "monthlyRemaining": 30000 - 2,
        },
        "firstActivity": "2025-10-02T09:00:00.123Z",
        "lastActivity": "2025-10-20T14:05:01.999Z",
        "isActive": True,
    }


def test_a_restaurant_without_activity_has_zeros_and_nulls(client, owner, settings):
    assert own_usage(client, owner) == {
        "restaurantId": "r1",
        "restaurantName": "Al Diwan / الديوان",
        "conversationsThisMonth": 0,
        "lastConversationAt": None,
        "allowance": {
            "dailyLimit": settings.default_max_messages_per_day,
            "dailyRemaining": settings.default_max_messages_per_day,
            "monthlyLimit": settings.default_max_conversations_per_month,
            "monthlyRemaining": settings.default_max_conversations_per_month,
        },
        "firstActivity": None,
        "lastActivity": None,
        "isActive": True,
    }


def test_remaining_allowances_are_the_limits_minus_use(client, db_session, settings, clock):
    add_restaurant(db_session, settings, "r1", limits=BotLimits(daily_limit=10, monthly_limit=5))
    headers = owner_headers(db_session, "r1")
    open_conversation(db_session, "r1", NOW - dt.timedelta(days=3))
    open_conversation(db_session, "r1", NOW - dt.timedelta(hours=2))
    inbound_message(db_session, "r1", NOW - dt.timedelta(hours=1), count=6)
    assert own_usage(client, headers)["allowance"] == {
        "dailyLimit": 10,
        "dailyRemaining": 3,
        "monthlyLimit": 5,
        "monthlyRemaining": 3,
    }


def test_remaining_allowances_never_go_below_zero_when_limits_are_lowered(
    client, db_session, settings, owner
):
    for hours in (5, 4, 3):
        open_conversation(db_session, "r1", NOW - dt.timedelta(hours=hours))
    update_restaurant(db_session, settings, "r1", limits=BotLimits(daily_limit=1, monthly_limit=2))
    body = own_usage(client, owner)
    assert body["conversationsThisMonth"] == 3
    assert body["allowance"] == {
        "dailyLimit": 1,
        "dailyRemaining": 0,
        "monthlyLimit": 2,
        "monthlyRemaining": 0,
    }


def test_zero_limits_leave_nothing_remaining(client, db_session, settings, clock):
    add_restaurant(db_session, settings, "r1", limits=BotLimits(daily_limit=0, monthly_limit=0))
    allowance = own_usage(client, owner_headers(db_session, "r1"))["allowance"]
    assert allowance == {
        "dailyLimit": 0,
        "dailyRemaining": 0,
        "monthlyLimit": 0,
        "monthlyRemaining": 0,
    }


def test_a_restaurant_without_bot_config_gets_the_default_allowances_and_counts_as_active(
    client, db_session, settings, owner
):
    restaurant = add_restaurant(db_session, settings, "r2")
    db_session.delete(restaurant.bot)
    db_session.flush()
    open_conversation(db_session, "r2", NOW - dt.timedelta(hours=1))
    body = detail(client, admin_headers(db_session), "r2")
    assert body["allowance"] == {
        "dailyLimit": settings.default_max_messages_per_day,
        "dailyRemaining": settings.default_max_messages_per_day - 1,
        "monthlyLimit": settings.default_max_conversations_per_month,
        "monthlyRemaining": settings.default_max_conversations_per_month - 1,
    }
    assert body["isActive"] is True


@pytest.mark.parametrize(
    ("changes", "is_active"),
    [
        ({"is_active": False}, False),
        ({"bot_enabled": False}, False),
        ({"is_active": False, "bot_enabled": False}, False),
        ({"is_active": True, "bot_enabled": True}, True),
    ],
)
def test_is_active_means_restaurant_active_and_bot_enabled(
    client, db_session, settings, owner, admin, changes, is_active
):
    update_restaurant(db_session, settings, "r1", **changes)
    assert own_usage(client, owner)["isActive"] is is_active
    listed = client.get("/api/usage", headers=admin).json["data"]
    assert [(item["restaurantId"], item["isActive"]) for item in listed] == [("r1", is_active)]


def test_last_conversation_at_is_the_start_of_this_months_latest_conversation(
    client, db_session, owner
):
    open_conversation(db_session, "r1", at("2025-09-30T23:00:00"))
    assert own_usage(client, owner)["lastConversationAt"] is None
    open_conversation(db_session, "r1", at("2025-10-01T00:00:00"))
    inbound_message(db_session, "r1", at("2025-10-05T00:00:00"))
    assert own_usage(client, owner)["lastConversationAt"] == "2025-10-01T00:00:00.000Z"


def test_activity_spans_every_month_and_both_directions(client, db_session, owner):
    outbound_message(db_session, "r1", at("2024-03-05T10:00:00"))
    open_conversation(db_session, "r1", at("2025-01-15T12:00:00"))
    outbound_message(db_session, "r1", at("2025-10-19T08:00:00"))
    body = own_usage(client, owner)
    assert (body["firstActivity"], body["lastActivity"]) == (
        "2024-03-05T10:00:00.000Z",
        "2025-10-19T08:00:00.000Z",
    )
    assert body["conversationsThisMonth"] == 0


# Both restaurants see the same three events; "now" is 22:00 UTC on 31 October,
# which is already 01:00 on 1 November in Riyadh (UTC+3).
EVENTS = ["2025-10-31T20:30:00", "2025-10-31T21:30:00", "2025-10-31T21:45:00"]
BOUNDARY_NOW = at("2025-10-31T22:00:00")


@pytest.mark.parametrize(
    ("timezone", "this_month", "today", "history_head"),
    [
        # 20:30 UTC is 23:30 on 31 Oct in Riyadh; the other two are on 1 Nov there.
        ("Asia/Riyadh", 2, 2, [(11, 2025, 2), (10, 2025, 1), (9, 2025, 0)]),
        ("UTC", 3, 3, [(10, 2025, 3), (9, 2025, 0), (8, 2025, 0)]),
    ],
)
def test_days_and_months_are_the_restaurants_own_calendar(
    client, db_session, settings, clock, admin, timezone, this_month, today, history_head
):
    add_restaurant(db_session, settings, "r1", timezone=timezone)
    for event in EVENTS:
        open_conversation(db_session, "r1", at(event))
    clock.now = BOUNDARY_NOW
    body = detail(client, admin)
    assert body["conversationsThisMonth"] == this_month
    assert body["allowance"]["dailyRemaining"] == 1000 - today
    assert body["lastConversationAt"] == "2025-10-31T21:45:00.000Z"
    head = [(m["month"], m["year"], m["conversationCount"]) for m in body["history"][:3]]
    assert head == history_head


def test_a_new_local_day_gives_the_daily_allowance_back(client, db_session, settings, clock):
    add_restaurant(db_session, settings, "r1", timezone="Asia/Riyadh")
    headers = owner_headers(db_session, "r1")
    inbound_message(db_session, "r1", at("2025-10-20T20:00:00"), count=5)  # 23:00 in Riyadh
    clock.now = at("2025-10-20T20:59:59")
    assert own_usage(client, headers)["allowance"]["dailyRemaining"] == 995
    clock.now = at("2025-10-20T21:00:00")  # midnight in Riyadh
    assert own_usage(client, headers)["allowance"]["dailyRemaining"] == 1000


def test_history_is_six_months_newest_first_zero_filled_across_a_year_boundary(
    client, db_session, owner, admin, clock
):
    open_conversation(db_session, "r1", at("2025-08-31T23:59:59"))  # outside the window
    open_conversation(db_session, "r1", at("2025-09-01T00:00:00"))
    open_conversation(db_session, "r1", at("2025-11-10T10:00:00"))
    open_conversation(db_session, "r1", at("2025-11-12T11:00:00.250"))
    open_conversation(db_session, "r1", at("2026-01-02T03:04:05"))
    clock.now = at("2026-02-10T12:00:00")
    body = detail(client, admin)
    assert body["history"] == [
        {"month": 2, "year": 2026, "conversationCount": 0, "lastConversationAt": None},
        {
            "month": 1,
            "year": 2026,
            "conversationCount": 1,
            "lastConversationAt": "2026-01-02T03:04:05.000Z",
        },
        {"month": 12, "year": 2025, "conversationCount": 0, "lastConversationAt": None},
        {
            "month": 11,
            "year": 2025,
            "conversationCount": 2,
            "lastConversationAt": "2025-11-12T11:00:00.250Z",
        },
        {"month": 10, "year": 2025, "conversationCount": 0, "lastConversationAt": None},
        {
            "month": 9,
            "year": 2025,
            "conversationCount": 1,
            "lastConversationAt": "2025-09-01T00:00:00.000Z",
        },
    ]
    assert body["conversationsThisMonth"] == 0
    assert body["firstActivity"] == "2025-08-31T23:59:59.000Z"


def test_the_detail_is_the_usage_object_followed_by_history(client, db_session, owner, admin):
    open_conversation(db_session, "r1", NOW - dt.timedelta(days=1))
    body = detail(client, admin)
    usage = {key: value for key, value in body.items() if key != "history"}
    assert list(body) == [*SPEC_EXAMPLE, "history"]
    assert usage == own_usage(client, owner)
    assert len(body["history"]) == 6
    for month in body["history"]:
        assert list(month) == ["month", "year", "conversationCount", "lastConversationAt"]


@pytest.mark.parametrize("restaurant_id", ["r9", "R1", "r1%00", "%F0%9F%8D%94", "x" * 65])
def test_an_unknown_restaurant_on_the_detail_endpoint_is_404(client, owner, admin, restaurant_id):
    response = client.get(f"/api/usage/{restaurant_id}", headers=admin)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_other_methods_are_405_with_a_json_error(client, admin):
    response = client.post("/api/usage", headers=admin)
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]
