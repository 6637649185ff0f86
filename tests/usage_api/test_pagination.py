import pytest

from store.restaurants import update_restaurant
from tests.usage_api.conftest import add_restaurant, admin_headers, owner_headers


def ids(response):
    return [item["restaurantId"] for item in response.json["data"]]


@pytest.fixture
def admin(db_session, clock):
    return admin_headers(db_session)


@pytest.fixture
def restaurants(db_session, settings):
    """25 restaurants created out of order: the list must not follow insertion order."""
    made = [f"r{number:03d}" for number in range(1, 26)]
    for restaurant_id in reversed(made):
        add_restaurant(db_session, settings, restaurant_id)
    return made


def test_an_admin_gets_20_restaurants_by_default_in_order_of_id(client, admin, restaurants):
    response = client.get("/api/usage", headers=admin)
    assert response.status_code == 200
    assert list(response.json) == ["data", "pagination"]
    assert ids(response) == restaurants[:20]
    assert response.json["pagination"] == {"total": 25, "limit": 20, "offset": 0, "hasMore": True}


def test_pages_follow_each_other_without_gaps_or_repeats(client, admin, restaurants):
    seen = []
    offset = 0
    while True:
        response = client.get(f"/api/usage?limit=7&offset={offset}", headers=admin)
        seen += ids(response)
        if not response.json["pagination"]["hasMore"]:
            break
        offset += 7
    assert seen == restaurants
    assert response.json["pagination"] == {"total": 25, "limit": 7, "offset": 21, "hasMore": False}


def test_the_last_full_page_has_no_more(client, admin, restaurants):
    response = client.get("/api/usage?limit=5&offset=20", headers=admin)
    assert ids(response) == restaurants[20:]
    assert response.json["pagination"]["hasMore"] is False


@pytest.mark.parametrize("offset", [25, 26, 1000, 2**63 - 1])
def test_an_offset_at_or_past_the_end_gives_an_empty_page(client, admin, restaurants, offset):
    response = client.get(f"/api/usage?offset={offset}", headers=admin)
    assert response.status_code == 200
    assert response.json == {
        "data": [],
        "pagination": {"total": 25, "limit": 20, "offset": offset, "hasMore": False},
    }


def test_a_limit_above_100_is_capped_at_100(client, db_session, settings, admin):
    for number in range(105):
        add_restaurant(db_session, settings, f"r{number:03d}")
    response = client.get("/api/usage?limit=1000", headers=admin)
    assert len(response.json["data"]) == 100
    assert response.json["pagination"] == {
        "total": 105,
        "limit": 100,
        "offset": 0,
        "hasMore": True,
    }


def test_a_limit_of_1_and_of_100_are_taken_as_given(client, admin, restaurants):
    assert ids(client.get("/api/usage?limit=1", headers=admin)) == restaurants[:1]
    limit_100 = client.get("/api/usage?limit=100", headers=admin)
    assert limit_100.json["pagination"]["limit"] == 100
    assert ids(limit_100) == restaurants


def test_an_empty_platform_has_an_empty_first_page(client, admin):
    response = client.get("/api/usage", headers=admin)
    assert response.json == {
        "data": [],
        "pagination": {"total": 0, "limit": 20, "offset": 0, "hasMore": False},
    }


def test_inactive_restaurants_are_listed_too(client, db_session, settings, admin, restaurants):
    update_restaurant(db_session, settings, "r002", is_active=False)
    listed = client.get("/api/usage?limit=3", headers=admin).json["data"]
    assert [(item["restaurantId"], item["isActive"]) for item in listed] == [
        ("r001", True),
        ("r002", False),
        ("r003", True),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=1.5",
        "limit=1e2",
        "limit=",
        "limit=0",
        "limit=-1",
        "limit=+5",
        "limit=%205",
        "limit=1_0",
        "limit=%D9%A1",  # Arabic-Indic one
        "offset=-1",
        "offset=x",
        "offset=",
        f"offset={2**63}",
        "offset=" + "9" * 5000,
        "limit=10&offset=-5",
    ],
)
def test_a_malformed_or_out_of_range_parameter_is_400_invalid_parameter(
    client, admin, restaurants, query
):
    response = client.get(f"/api/usage?{query}", headers=admin)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"
    name = query.split("=")[0] if "&" not in query else "offset"
    assert response.json["error"]["message"].startswith(name)


@pytest.mark.parametrize("query", ["", "?limit=abc&offset=-1", "?limit=1&offset=5"])
def test_limit_and_offset_are_ignored_for_an_owner(client, db_session, restaurants, query):
    headers = owner_headers(db_session, "r010")
    response = client.get(f"/api/usage{query}", headers=headers)
    assert response.status_code == 200
    assert response.json["restaurantId"] == "r010"
    assert "pagination" not in response.json


def test_a_leading_zero_is_still_an_integer(client, admin, restaurants):
    response = client.get("/api/usage?limit=007&offset=0003", headers=admin)
    assert ids(response) == restaurants[3:10]
