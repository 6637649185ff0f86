"""The bulk dead-letter JSON API and the audit log (SPEC §14)."""

import datetime as dt

import pytest

from store import credentials
from tests.support.dashboard_data import put_dead_letter
from tests.support.processes import on_rabbitmq
from tests.usage_api.conftest import NOW

pytestmark = pytest.mark.skipif(on_rabbitmq(), reason="dead letters are listed on Redis only")


@pytest.fixture
def admin(db_session):
    return {"X-API-Key": credentials.create_api_key(db_session, name="ops").secret}


@pytest.fixture
def letters(runtime):
    return [
        put_dead_letter(
            runtime,
            actor="welcome_bootstrap",
            queue="bootstrap",
            kwargs={"restaurant_id": f"r{n % 2}"},
            error_class="CatalogUnavailable" if n < 3 else "TwilioError:63016",
            last_error="boom",
            at=NOW - dt.timedelta(minutes=n),
        )
        for n in range(5)
    ]


def test_the_list_filters_and_each_item_has_its_error_class(client, admin, letters):
    body = client.get("/api/admin/dead-letters?errorClass=CatalogUnavailable", headers=admin).json
    assert body["pagination"]["total"] == 3
    assert {item["errorClass"] for item in body["data"]} == {"CatalogUnavailable"}
    both = client.get(
        "/api/admin/dead-letters?restaurantId=r0&errorClass=TwilioError:63016", headers=admin
    ).json
    assert [item["id"] for item in both["data"]] == [letters[4]]
    windowed = client.get(
        "/api/admin/dead-letters?after=2025-10-20T15:28:00Z&before=2025-10-20T15:30:00%2B00:00",
        headers=admin,
    ).json
    assert windowed["pagination"]["total"] == 2


@pytest.mark.parametrize("query", ["after=yesterday", "before=2025-10-20T15:30", "errorClass=a b"])
def test_a_filter_that_is_not_iso_8601_or_a_class_is_400(client, admin, query):
    answer = client.get(f"/api/admin/dead-letters?{query}", headers=admin)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "invalid_parameter"


def test_bulk_retry_by_filter_with_the_previewed_count(client, admin, letters, runtime):
    answer = client.post(
        "/api/admin/dead-letters/retry",
        headers=admin,
        json={"filter": {"errorClass": "CatalogUnavailable"}, "expect": 3},
    )
    assert (answer.status_code, answer.json) == (200, {"matched": 3, "requeued": 3})
    ns = runtime.settings.redis_namespace
    assert runtime.redis.llen(f"{ns}:bootstrap") == 3
    audit = client.get("/api/admin/audit", headers=admin).json
    [entry] = audit["data"]
    assert entry["keyPrefix"] == admin["X-API-Key"][:14]
    assert (entry["action"], entry["count"]) == ("dead_letters.retry", 3)
    assert entry["filter"] == {"errorClass": "CatalogUnavailable"}
    assert entry["ids"] is None
    assert entry["at"].endswith("Z")
    assert audit["pagination"] == {"total": 1, "limit": 20, "offset": 0, "hasMore": False}


def test_bulk_delete_by_ids(client, admin, letters):
    answer = client.post(
        "/api/admin/dead-letters/delete", headers=admin, json={"ids": letters[:2], "expect": 2}
    )
    assert (answer.status_code, answer.json) == (200, {"matched": 2, "deleted": 2})
    assert client.get("/api/admin/dead-letters", headers=admin).json["pagination"]["total"] == 3
    [entry] = client.get("/api/admin/audit", headers=admin).json["data"]
    assert (entry["action"], entry["ids"]) == ("dead_letters.delete", letters[:2])


def test_a_stale_count_is_409_and_does_nothing(client, admin, letters):
    answer = client.post(
        "/api/admin/dead-letters/retry", headers=admin, json={"filter": {}, "expect": 4}
    )
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "conflict"
    assert answer.json["error"]["matched"] == 5
    assert client.get("/api/admin/dead-letters", headers=admin).json["pagination"]["total"] == 5
    assert client.get("/api/admin/audit", headers=admin).json["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {}},
        {"ids": ["x"]},
        {"filter": {}, "ids": ["x"], "expect": 1},
        {"expect": 1},
        {"filter": {"after": "tomorrow"}, "expect": 0},
        {"filter": {"colour": "red"}, "expect": 0},
        {"filter": [], "expect": 0},
        {"ids": "x", "expect": 1},
        {"filter": {}, "expect": -1},
        {"filter": {}, "expect": True},
    ],
)
def test_malformed_bulk_requests_are_400(client, admin, letters, body):
    answer = client.post("/api/admin/dead-letters/retry", headers=admin, json=body)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "invalid_parameter"


def test_single_retries_and_deletes_are_audited_too(client, admin, letters):
    assert (
        client.post(f"/api/admin/dead-letters/{letters[0]}/retry", headers=admin).status_code == 202
    )
    assert client.delete(f"/api/admin/dead-letters/{letters[1]}", headers=admin).status_code == 204
    actions = [e["action"] for e in client.get("/api/admin/audit", headers=admin).json["data"]]
    assert actions == ["dead_letters.delete", "dead_letters.retry"]
