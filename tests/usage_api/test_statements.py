"""The number of SQL statements per request does not grow with the page or the data."""

import datetime as dt

import pytest

from store import counters
from store.counters import UsagePeriod
from tests.usage_api.conftest import (
    NOW,
    add_restaurant,
    admin_headers,
    inbound_message,
    open_conversation,
    outbound_message,
    owner_headers,
)

# Per request: the credential; then for a page the COUNT, the restaurants, their month
# rows, their day rows and their activity bounds (a single restaurant needs no COUNT).
SELECTS_FOR_A_PAGE = 6
SELECTS_FOR_ONE_RESTAURANT = 5


def selects(statements):
    return [sql for sql in statements.statements if sql.lstrip().upper().startswith("SELECT")]


def measure(client, statements, url, headers):
    statements.clear()
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(statements), len(selects(statements))


def lots_of_history(db_session, restaurant_id):
    """Three years of months, a day row for every day of this month, 10 million messages."""
    for months_ago in range(36):
        moment = NOW - dt.timedelta(days=30 * months_ago)
        open_conversation(db_session, restaurant_id, moment)
        outbound_message(db_session, restaurant_id, moment)
    for day in range(1, 21):
        inbound_message(db_session, restaurant_id, NOW.replace(day=day), count=3)
    open_conversation(db_session, restaurant_id, NOW)
    # The counters, not the messages, are what the API reads: make them huge.
    counters.record_month(
        db_session, restaurant_id, UsagePeriod.of(NOW, "UTC"), NOW, messages=10_000_000
    )


@pytest.fixture
def admin(db_session, clock):
    return admin_headers(db_session)


def test_a_page_of_100_costs_the_same_statements_as_a_page_of_1(
    client, db_session, settings, admin, statements
):
    add_restaurant(db_session, settings, "r000")
    open_conversation(db_session, "r000", NOW)
    client.get("/api/usage", headers=admin)  # records the key's first use
    one = measure(client, statements, "/api/usage?limit=100", admin)
    for number in range(1, 100):
        restaurant_id = f"r{number:03d}"
        add_restaurant(db_session, settings, restaurant_id, timezone="Asia/Riyadh")
        open_conversation(db_session, restaurant_id, NOW)
    hundred = measure(client, statements, "/api/usage?limit=100", admin)
    assert one == hundred
    assert one[1] == SELECTS_FOR_A_PAGE


@pytest.mark.parametrize(
    ("path", "who"), [("/api/usage", "owner"), ("/api/usage/r1", "admin")], ids=["owner", "detail"]
)
def test_one_restaurants_usage_costs_the_same_with_little_and_with_much_data(
    client, db_session, settings, clock, admin, statements, path, who
):
    add_restaurant(db_session, settings, "r1")
    headers = owner_headers(db_session, "r1") if who == "owner" else admin
    open_conversation(db_session, "r1", NOW)
    client.get(path, headers=headers)  # records the credential's first use
    little = measure(client, statements, path, headers)
    lots_of_history(db_session, "r1")
    much = measure(client, statements, path, headers)
    assert little == much
    assert little[1] == SELECTS_FOR_ONE_RESTAURANT


def test_no_request_reads_messages_or_conversations(
    client, db_session, settings, admin, statements
):
    add_restaurant(db_session, settings, "r1")
    owner = owner_headers(db_session, "r1")
    lots_of_history(db_session, "r1")
    statements.clear()
    for url, headers in [("/api/usage", owner), ("/api/usage", admin), ("/api/usage/r1", admin)]:
        assert client.get(url, headers=headers).status_code == 200
    assert statements.touching("messages") == []
    assert statements.touching("conversations") == []


def test_an_offset_past_the_end_costs_no_more_than_a_full_page(
    client, db_session, settings, admin, statements
):
    add_restaurant(db_session, settings, "r1")
    client.get("/api/usage", headers=admin)
    full = measure(client, statements, "/api/usage", admin)
    past = measure(client, statements, "/api/usage?offset=5", admin)
    assert past <= full
