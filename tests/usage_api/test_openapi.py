"""The OpenAPI document describes what the API really answers."""

import datetime as dt

import pytest
from jsonschema import Draft202012Validator

from store import credentials
from store.models import PersonalAccessToken
from store.restaurants import update_restaurant
from tests.usage_api.conftest import (
    NOW,
    add_restaurant,
    admin_headers,
    open_conversation,
    owner_headers,
)


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json


def validator(document, schema):
    """A validator of `schema` whose `#/components/...` references resolve in `document`."""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    root["components"] = document["components"]
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


def response_schema(document, path, status):
    response = document["paths"][path]["get"]["responses"][str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]


def assert_documented(document, path, response):
    schema = response_schema(document, path, response.status_code)
    validator(document, schema).validate(response.json)


@pytest.fixture
def world(db_session, settings, clock):
    add_restaurant(db_session, settings, "r1", timezone="Asia/Riyadh")
    add_restaurant(db_session, settings, "r2")
    update_restaurant(db_session, settings, "r2", is_active=False)
    open_conversation(db_session, "r1", NOW - dt.timedelta(days=40))
    open_conversation(db_session, "r1", NOW - dt.timedelta(hours=1))
    return {"owner": owner_headers(db_session, "r1"), "admin": admin_headers(db_session)}


def test_the_document_is_openapi_3_and_needs_no_credentials(document):
    assert document["openapi"].startswith("3.")
    assert {"/api/usage", "/api/usage/{restaurantId}"} <= set(document["paths"])  # + jobs (§9)
    schemes = document["components"]["securitySchemes"]
    assert schemes["personalAccessToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["personalAccessToken"]["description"],
    }
    assert (schemes["restaurantId"]["in"], schemes["restaurantId"]["name"]) == (
        "header",
        "X-Restaurant-Id",
    )
    assert (schemes["adminApiKey"]["in"], schemes["adminApiKey"]["name"]) == ("header", "X-API-Key")


def test_every_schema_in_the_document_is_valid_json_schema(document):
    for name in document["components"]["schemas"]:
        validator(document, {"$ref": f"#/components/schemas/{name}"})


def test_an_owners_usage_matches_the_usage_schema_and_not_the_page(client, document, world):
    response = client.get("/api/usage", headers=world["owner"])
    assert_documented(document, "/api/usage", response)
    usage = validator(document, {"$ref": "#/components/schemas/Usage"})
    page = validator(document, {"$ref": "#/components/schemas/UsagePage"})
    assert usage.is_valid(response.json)
    assert not page.is_valid(response.json)


def test_an_admins_page_matches_the_page_schema(client, document, world):
    for query in ("", "?limit=1", "?offset=1", "?offset=99"):
        response = client.get(f"/api/usage{query}", headers=world["admin"])
        assert response.status_code == 200
        assert_documented(document, "/api/usage", response)


def test_a_detail_matches_the_detail_schema(client, document, world):
    response = client.get("/api/usage/r1", headers=world["admin"])
    assert response.status_code == 200
    assert_documented(document, "/api/usage/{restaurantId}", response)


def test_error_answers_match_their_documented_responses(client, db_session, document, world):
    owner, admin = world["owner"], world["admin"]
    expired = owner_headers(db_session, "r1", name="old", expires_in_days=1)
    credentials.revoke(
        db_session, PersonalAccessToken, expired["Authorization"].removeprefix("Bearer ")[:14]
    )
    cases = [
        ("/api/usage", {}, 401),
        ("/api/usage", expired, 401),
        ("/api/usage", {"X-API-Key": "rbkey_nope"}, 401),
        ("/api/usage", {"Authorization": owner["Authorization"]}, 400),
        ("/api/usage", {**owner, "X-Restaurant-Id": "r2"}, 403),
        ("/api/usage?limit=0", admin, 400),
        ("/api/usage/r1", {}, 401),
        ("/api/usage/r1", owner, 403),
        ("/api/usage/nope", admin, 404),
    ]
    for path, headers, status in cases:
        response = client.get(path, headers=headers)
        assert response.status_code == status, (path, headers)
        template = "/api/usage/{restaurantId}" if path.startswith("/api/usage/") else "/api/usage"
        assert_documented(document, template, response)
        if status == 401:
            assert response.headers["WWW-Authenticate"] == "Bearer"
