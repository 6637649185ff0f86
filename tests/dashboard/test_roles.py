"""A read-only key sees every page and changes nothing; an owner sees only their restaurant."""

import pytest

from tests.dashboard.conftest import csrf_of
from tests.support.dashboard_data import put_dead_letter
from tests.usage_api.conftest import NOW

OPERATOR_PAGES = [
    "/dashboard/admin/overview",
    "/dashboard/admin/restaurants",
    "/dashboard/admin/restaurants.csv",
    "/dashboard/admin/jobs",
    "/dashboard/admin/jobs.json",
    "/dashboard/admin/dead-letters",
    "/dashboard/admin/dead-letters/confirm?action=delete",
    "/dashboard/admin/breakers",
    "/dashboard/admin/batches",
    "/dashboard/admin/batches.json",
    "/dashboard/r/r1/usage",
    "/dashboard/r/r2/usage",
]


@pytest.fixture
def letter(runtime):
    return put_dead_letter(
        runtime,
        actor="welcome_bootstrap",
        queue="bootstrap",
        kwargs={"restaurant_id": "r1"},
        error_class="CatalogUnavailable",
        last_error="CatalogUnavailable: down",
        at=NOW,
    )


@pytest.mark.parametrize("path", OPERATOR_PAGES)
def test_a_viewer_sees_every_operator_page(viewer, path):
    assert viewer.get(path).status_code == 200


def test_every_action_of_a_viewer_is_refused_and_changes_nothing(viewer, letter, runtime):
    page = viewer.get("/dashboard/admin/dead-letters").get_data(as_text=True)
    token = csrf_of(page)
    assert "disabled" in page
    for path, data in [
        (f"/dashboard/admin/dead-letters/{letter}/retry", {}),
        (f"/dashboard/admin/dead-letters/{letter}/delete", {}),
        ("/dashboard/admin/dead-letters/selected", {"ids": letter, "action": "delete"}),
        ("/dashboard/admin/dead-letters/bulk", {"action": "retry", "expect": "1"}),
    ]:
        answer = viewer.post(path, data={"csrf_token": token, **data})
        assert answer.status_code == 403, path
        assert "read-only" in answer.get_data(as_text=True)
    ns = runtime.settings.redis_namespace
    assert runtime.redis.zcard(f"{ns}:bootstrap.XQ") == 1


def test_a_read_only_key_is_refused_on_every_mutating_api_endpoint(client, people, letter, runtime):
    viewer = {"X-API-Key": people.viewer_key}
    assert client.get("/api/admin/dead-letters", headers=viewer).status_code == 200
    assert client.get("/api/admin/audit", headers=viewer).status_code == 200
    assert client.get("/api/admin/metrics", headers=viewer).status_code == 200
    for method, path, body in [
        ("POST", f"/api/admin/dead-letters/{letter}/retry", None),
        ("DELETE", f"/api/admin/dead-letters/{letter}", None),
        ("POST", "/api/admin/dead-letters/retry", {"ids": [letter], "expect": 1}),
        ("POST", "/api/admin/dead-letters/delete", {"filter": {}, "expect": 1}),
    ]:
        answer = client.open(path, method=method, headers=viewer, json=body)
        assert answer.status_code == 403, path
        assert answer.get_json()["error"]["code"] == "forbidden"
    ns = runtime.settings.redis_namespace
    assert runtime.redis.zcard(f"{ns}:bootstrap.XQ") == 1


def test_the_api_never_reads_the_dashboard_cookie(admin):
    assert admin.get("/api/admin/metrics").status_code == 401


def test_an_owner_sees_only_their_restaurant(owner):
    assert owner.get("/dashboard/r/r1/usage").status_code == 200
    assert owner.get("/dashboard/r/r2/usage").status_code == 404
    assert owner.get("/dashboard/r/nope/usage").status_code == 404
    assert owner.get("/dashboard/admin/overview").status_code == 403
    assert owner.get("/dashboard/admin/jobs.json").status_code == 403


def test_an_owner_page_shows_usage_in_the_restaurants_zone(owner):
    page = owner.get("/dashboard/r/r1/usage").get_data(as_text=True)
    assert "Asia/Riyadh" in page
    assert 'dir="auto"' in page
    assert "Messages today" in page
    assert "Conversations this month" in page


def test_a_read_only_key_is_refused_on_every_mutating_operation_of_the_openapi_document(
    client, people, runtime
):
    from usage_api.openapi import DOCUMENT

    viewer = {"X-API-Key": people.viewer_key}
    mutating = [
        (method.upper(), path)
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete")
        and {"adminApiKey": []} in operation.get("security", [])
    ]
    assert len(mutating) >= 9  # dead letters, imports, alerts…
    for method, path in mutating:
        url = path.replace("{id}", "1").replace("{restaurantId}", "r1")
        answer = client.open(
            f"{url}?restaurantId=r1",
            method=method,
            headers=viewer,
            json={"restaurantId": "r1", "ids": ["1"], "expect": 1, "rules": [], "days": 1},
        )
        assert answer.status_code == 403, (method, path, answer.get_json())
        assert answer.get_json()["error"]["code"] == "forbidden"
