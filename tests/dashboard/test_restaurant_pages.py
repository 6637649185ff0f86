"""The Restaurants page: sorting by each column, search, pagination, the CSV export."""

import csv
import io

import pytest

from store.usage import USAGE_FIELDS
from tests.usage_api.conftest import (
    NOW,
    add_restaurant,
    inbound_message,
    open_conversation,
)


@pytest.fixture
def usage(db_session, settings, people, clock):
    """r1: 3 conversations this month; r2: 1; r3 "=cmd" (a formula name): none, bot off."""
    for _ in range(3):
        open_conversation(db_session, "r1", NOW)
    open_conversation(db_session, "r2", NOW)
    inbound_message(db_session, "r2", NOW, count=5)
    add_restaurant(db_session, settings, "r3", name="=HYPERLINK(1)")
    from store.restaurants import update_restaurant

    update_restaurant(db_session, settings, "r3", bot_enabled=False)


def ids_in_page(client, query):
    page = client.get(f"/dashboard/admin/restaurants?{query}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    return [rid for rid in ("r1", "r2", "r3") if f"/dashboard/r/{rid}/usage" in text], text


def order_of(text):
    positions = {rid: text.index(f"/dashboard/r/{rid}/usage") for rid in ("r1", "r2", "r3")}
    return sorted(positions, key=positions.get)


@pytest.mark.parametrize("field", USAGE_FIELDS)
def test_the_page_sorts_by_every_column_both_ways(admin, usage, field):
    _, ascending = ids_in_page(admin, f"sort={field}&order=asc")
    _, descending = ids_in_page(admin, f"sort={field}&order=desc")
    assert sorted(order_of(ascending)) == ["r1", "r2", "r3"]
    if field in ("restaurantId", "conversationsThisMonth"):
        assert order_of(descending) == list(reversed(order_of(ascending)))


def test_conversations_sort_puts_the_busiest_first(admin, usage):
    _, text = ids_in_page(admin, "sort=conversationsThisMonth&order=desc")
    assert order_of(text) == ["r1", "r2", "r3"]
    _, text = ids_in_page(admin, "sort=dailyRemaining&order=asc")
    assert order_of(text)[0] == "r2"


@pytest.mark.parametrize(
    ("search", "found"),
    [("r2", ["r2"]), ("DIWAN", []), ("الديوان", ["r1"]), ("hyperlink", ["r3"]), ("%", [])],
)
def test_search_looks_in_names_ids_and_numbers(admin, usage, search, found):
    from urllib.parse import quote

    matched, _ = ids_in_page(admin, f"q={quote(search)}")
    assert matched == found


def test_search_finds_a_whatsapp_number(admin, usage, db_session):
    from store.models import Restaurant

    number = db_session.get(Restaurant, "r2").whatsapp_number
    matched, _ = ids_in_page(admin, f"q={number[1:]}")
    assert matched == ["r2"]


@pytest.mark.parametrize(
    "query", ["sort=nope", "order=sideways", "page=0", "page=x", "q=" + "x" * 101]
)
def test_bad_arguments_are_a_400_page(admin, usage, query):
    answer = admin.get(f"/dashboard/admin/restaurants?{query}")
    assert answer.status_code == 400
    assert "invalid_parameter" in answer.get_data(as_text=True)


def test_the_page_paginates(admin, db_session, settings, people):
    for n in range(60):
        add_restaurant(db_session, settings, f"x{n:03d}")
    first = admin.get("/dashboard/admin/restaurants").get_data(as_text=True)
    second = admin.get("/dashboard/admin/restaurants?page=2").get_data(as_text=True)
    assert "Page 1 of 2" in first
    assert "/dashboard/r/x047/usage" in first
    assert "/dashboard/r/x048/usage" in second
    assert "/dashboard/r/x047/usage" not in second


def test_the_csv_has_one_header_row_and_the_usage_objects_fields(admin, usage):
    answer = admin.get("/dashboard/admin/restaurants.csv?sort=conversationsThisMonth&order=desc")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == [
        "restaurantId",
        "restaurantName",
        "conversationsThisMonth",
        "lastConversationAt",
        "dailyLimit",
        "dailyRemaining",
        "monthlyLimit",
        "monthlyRemaining",
        "firstActivity",
        "lastActivity",
        "isActive",
    ]
    by_id = {row[0]: row for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == ["r1", "r2", "r3"]
    assert by_id["r1"][1] == "مطعم الديوان"
    assert by_id["r1"][2] == "3"
    assert by_id["r1"][3].endswith("Z")
    assert by_id["r2"][5] == str(1000 - 6)  # 1 + 5 accepted messages today
    assert by_id["r3"][10] == "false"
    assert by_id["r3"][3] == ""  # no conversation: empty cell


def test_a_csv_cell_that_would_be_a_formula_is_prefixed_with_a_quote(admin, usage):
    rows = list(
        csv.reader(
            io.StringIO(admin.get("/dashboard/admin/restaurants.csv").get_data(as_text=True))
        )
    )
    assert [row[1] for row in rows if row[0] == "r3"] == ["'=HYPERLINK(1)"]


def test_the_csv_follows_the_search(admin, usage):
    rows = list(
        csv.reader(
            io.StringIO(admin.get("/dashboard/admin/restaurants.csv?q=r2").get_data(as_text=True))
        )
    )
    assert [row[0] for row in rows] == ["restaurantId", "r2"]
