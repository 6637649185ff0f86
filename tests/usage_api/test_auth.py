import datetime as dt

import pytest
from sqlalchemy import select

from store import credentials
from store.models import ApiKey, PersonalAccessToken
from store.tokens import API_KEY_TYPE, PAT_TYPE, mint
from tests.usage_api.conftest import add_restaurant, admin_headers, owner_headers

INVALID = {
    "error": {
        "code": "invalid_credentials",
        "message": "the credentials are invalid, expired or revoked",
    }
}


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    assert set(response.json) == {"error"}
    assert set(response.json["error"]) == {"code", "message"}
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]


def assert_invalid(response):
    assert_error(response, 401, "invalid_credentials")
    assert response.json == INVALID
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.fixture
def owner(db_session, settings, clock):
    add_restaurant(db_session, settings, "r1")
    add_restaurant(db_session, settings, "r2")
    return owner_headers(db_session, "r1")


def test_a_request_without_credentials_is_401_missing_credentials(client, owner):
    response = client.get("/api/usage", headers={"X-Restaurant-Id": "r1"})
    assert_error(response, 401, "missing_credentials")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_detail_endpoint_without_credentials_is_401_too(client, owner):
    assert_error(client.get("/api/usage/r1"), 401, "missing_credentials")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Basic dXNlcjpwYXNz",
        "Token rbpat_x",
        "bearer rbpat_" + "A" * 36,
    ],
)
def test_a_malformed_authorization_header_is_401_invalid_credentials(client, owner, authorization):
    response = client.get(
        "/api/usage", headers={"Authorization": authorization, "X-Restaurant-Id": "r1"}
    )
    assert_invalid(response)


def test_a_token_whose_checksum_fails_is_refused_without_a_database_lookup(
    client, owner, statements
):
    secret = owner["Authorization"].removeprefix("Bearer ")
    typo = secret[:-7] + ("A" if secret[-7] != "A" else "B") + secret[-6:]
    statements.clear()
    response = client.get("/api/usage", headers={**owner, "Authorization": f"Bearer {typo}"})
    assert_invalid(response)
    assert statements.touching("personal_access_tokens") == []
    assert statements.touching("api_keys") == []


def test_an_unknown_token_a_revoked_one_and_an_expired_one_get_the_same_answer(
    client, db_session, owner, clock
):
    unknown = {**owner, "Authorization": f"Bearer {mint(PAT_TYPE).secret}"}
    revoked = owner_headers(db_session, "r1", name="revoked")
    prefix = revoked["Authorization"].removeprefix("Bearer ")[:14]
    credentials.revoke(db_session, PersonalAccessToken, prefix)
    # Minted with the real clock; the frozen clock is set past its expiry.
    expiring = owner_headers(db_session, "r1", name="expiring", expires_in_days=1)
    clock.now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=1)
    answers = [client.get("/api/usage", headers=h) for h in (unknown, revoked, expiring)]
    for response in answers:
        assert_invalid(response)
    assert len({r.get_data() for r in answers}) == 1


def test_a_token_works_until_its_expiry(client, db_session, owner, clock):
    headers = owner_headers(db_session, "r1", name="expiring", expires_in_days=1)
    clock.now = dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
    assert client.get("/api/usage", headers=headers).status_code == 200


def test_a_pat_without_x_restaurant_id_is_400_after_the_token_is_checked(client, owner):
    without = {"Authorization": owner["Authorization"]}
    assert_error(client.get("/api/usage", headers=without), 400, "missing_restaurant_id")
    bad_token = {"Authorization": f"Bearer {mint(PAT_TYPE).secret}"}
    assert_invalid(client.get("/api/usage", headers=bad_token))


def test_an_empty_x_restaurant_id_counts_as_missing(client, owner):
    response = client.get("/api/usage", headers={**owner, "X-Restaurant-Id": ""})
    assert_error(response, 400, "missing_restaurant_id")


@pytest.mark.parametrize("other", ["r2", "no-such-restaurant", "R1"])
def test_a_pat_naming_any_other_restaurant_existing_or_not_is_403(client, owner, other):
    response = client.get("/api/usage", headers={**owner, "X-Restaurant-Id": other})
    assert_error(response, 403, "forbidden")


def test_the_403_for_an_existing_and_a_missing_restaurant_is_the_same(client, owner):
    existing = client.get("/api/usage", headers={**owner, "X-Restaurant-Id": "r2"})
    missing = client.get("/api/usage", headers={**owner, "X-Restaurant-Id": "r9"})
    assert existing.get_data() == missing.get_data()


@pytest.mark.parametrize("restaurant_header", [{}, {"X-Restaurant-Id": "r1"}])
def test_a_pat_on_the_admin_detail_endpoint_is_403(client, owner, restaurant_header):
    headers = {"Authorization": owner["Authorization"], **restaurant_header}
    assert_error(client.get("/api/usage/r1", headers=headers), 403, "forbidden")


def test_an_api_key_alone_decides_even_next_to_a_valid_pat(client, db_session, owner):
    bad_key = mint(API_KEY_TYPE).secret
    assert_invalid(client.get("/api/usage", headers={**owner, "X-API-Key": bad_key}))
    good_key = admin_headers(db_session)
    response = client.get("/api/usage", headers={**owner, **good_key})
    assert response.status_code == 200
    assert "pagination" in response.json


def test_an_api_key_ignores_x_restaurant_id(client, db_session, owner):
    headers = {**admin_headers(db_session), "X-Restaurant-Id": "no-such-restaurant"}
    response = client.get("/api/usage", headers=headers)
    assert response.status_code == 200
    assert [item["restaurantId"] for item in response.json["data"]] == ["r1", "r2"]


@pytest.mark.parametrize("value", ["", "rbkey_short", "not a key at all"])
def test_a_malformed_or_empty_api_key_is_401(client, owner, value):
    assert_invalid(client.get("/api/usage", headers={"X-API-Key": value}))


def test_a_revoked_api_key_is_401(client, db_session, owner):
    key = credentials.create_api_key(db_session, name="old")
    credentials.revoke(db_session, ApiKey, key.prefix)
    assert_invalid(client.get("/api/usage", headers={"X-API-Key": key.secret}))


def test_a_pat_is_not_an_api_key_and_an_api_key_is_not_a_pat(client, db_session, owner):
    pat = owner["Authorization"].removeprefix("Bearer ")
    key = admin_headers(db_session)["X-API-Key"]
    assert_invalid(client.get("/api/usage", headers={"X-API-Key": pat}))
    as_pat = {"Authorization": f"Bearer {key}", "X-Restaurant-Id": "r1"}
    assert_invalid(client.get("/api/usage", headers=as_pat))


def last_used(db_session, model):
    db_session.expire_all()
    return [row.last_used_at for row in db_session.scalars(select(model))]


def test_last_used_at_is_written_at_most_once_a_minute_per_token(
    client, db_session, owner, clock, statements
):
    def request_and_count_writes():
        statements.clear()
        assert client.get("/api/usage", headers=owner).status_code == 200
        return len(statements.touching("UPDATE personal_access_tokens"))

    assert request_and_count_writes() == 1
    assert last_used(db_session, PersonalAccessToken) == [clock.now]
    first_use = clock.now
    clock.advance(seconds=30)
    assert request_and_count_writes() == 0
    clock.advance(seconds=29)
    assert request_and_count_writes() == 0
    assert last_used(db_session, PersonalAccessToken) == [first_use]
    clock.advance(seconds=1)
    assert request_and_count_writes() == 1
    assert last_used(db_session, PersonalAccessToken) == [first_use + dt.timedelta(minutes=1)]


def test_last_used_at_of_an_api_key_is_recorded_too(client, db_session, owner, clock):
    headers = admin_headers(db_session)
    client.get("/api/usage", headers=headers)
    client.get("/api/usage", headers=headers)
    assert last_used(db_session, ApiKey) == [clock.now]


def test_a_refused_token_is_not_marked_as_used(client, db_session, owner, clock):
    prefix = owner["Authorization"].removeprefix("Bearer ")[:14]
    credentials.revoke(db_session, PersonalAccessToken, prefix)
    assert_invalid(client.get("/api/usage", headers=owner))
    assert last_used(db_session, PersonalAccessToken) == [None]


def test_last_used_at_is_written_after_the_requests_reads(client, owner, statements):
    statements.clear()
    assert client.get("/api/usage", headers=owner).status_code == 200
    [update] = statements.touching("UPDATE personal_access_tokens")
    position = statements.statements.index(update)
    reads = statements.touching("monthly_usage") + statements.touching("daily_usage")
    assert reads
    assert all(statements.statements.index(read) < position for read in reads)


def test_a_token_used_for_a_refused_request_is_still_marked_as_used(
    client, db_session, owner, clock
):
    response = client.get("/api/usage", headers={**owner, "X-Restaurant-Id": "r2"})
    assert response.status_code == 403
    assert last_used(db_session, PersonalAccessToken) == [clock.now]
