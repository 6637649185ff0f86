"""`/api/jobs…` and `/api/admin/jobs…`: jobs seen by their restaurant and by admins."""

from __future__ import annotations

import pytest

from tests.support.waiting import wait_until


def get_job(client, job_id, headers):
    return client.get(f"/api/jobs/{job_id}", headers=headers)


@pytest.mark.rabbitmq
def test_progress_is_visible_through_the_api_while_the_job_runs(
    live_client, tenants, send_job, worker
):
    job_id = send_job("slow_job", "test-slow", restaurant_id="r1", seconds=1.5, steps=3)

    def progress_shown():
        body = get_job(live_client, job_id, tenants["r1"]).get_json()
        return body if body["status"] == "running" and body["progress"]["done"] >= 1 else None

    running = wait_until(progress_shown)
    assert running["progress"]["total"] == 3
    assert running["progress"]["step"].startswith("step ")
    assert running["startedAt"] is not None
    assert running["finishedAt"] is None
    done = wait_until(
        lambda: (
            (b := get_job(live_client, job_id, tenants["r1"]).get_json())["status"] == "succeeded"
            and b
        )
    )
    assert list(done) == [
        "id",
        "actor",
        "restaurantId",
        "status",
        "attempts",
        "progress",
        "result",
        "error",
        "createdAt",
        "startedAt",
        "finishedAt",
    ]
    assert done["id"] == job_id
    assert (done["actor"], done["restaurantId"], done["attempts"]) == ("slow_job", "r1", 1)
    assert done["progress"] == {"done": 3, "total": 3, "step": "done"}
    assert done["result"] == {"slept": 1.5}
    assert done["finishedAt"].endswith("Z")


def test_a_job_is_404_to_another_restaurants_token_and_visible_to_an_admin(
    live_client, tenants, send_job
):
    job_id = send_job("slow_job", "test-slow", restaurant_id="r1", seconds=0)
    assert get_job(live_client, job_id, tenants["r1"]).status_code == 200
    other = get_job(live_client, job_id, tenants["r2"])
    assert other.status_code == 404
    assert other.get_json()["error"]["code"] == "not_found"
    assert get_job(live_client, job_id, tenants["admin"]).get_json()["restaurantId"] == "r1"
    assert get_job(live_client, "no-such-job", tenants["admin"]).status_code == 404
    assert get_job(live_client, "x" * 500, tenants["admin"]).status_code == 404


def test_job_endpoints_check_credentials_in_the_usage_apis_order(live_client, tenants):
    assert live_client.get("/api/jobs/j1").get_json()["error"]["code"] == "missing_credentials"
    bad = live_client.get("/api/jobs", headers={"Authorization": "Bearer rbpat_nope"})
    assert (bad.status_code, bad.get_json()["error"]["code"]) == (401, "invalid_credentials")
    no_restaurant = {"Authorization": tenants["r1"]["Authorization"]}
    assert live_client.get("/api/jobs", headers=no_restaurant).status_code == 400
    wrong = {**tenants["r1"], "X-Restaurant-Id": "r2"}
    assert live_client.get("/api/jobs", headers=wrong).status_code == 403
    assert live_client.get("/api/admin/jobs", headers=tenants["r1"]).status_code == 403
    assert live_client.get("/api/admin/jobs/stats", headers=tenants["r1"]).status_code == 403


def test_a_restaurant_lists_its_own_recent_jobs_paginated(live_client, tenants, send_job):
    mine = [send_job("slow_job", "test-slow", restaurant_id="r1", seconds=0) for _ in range(3)]
    send_job("slow_job", "test-slow", restaurant_id="r2", seconds=0)
    page = live_client.get("/api/jobs?limit=2", headers=tenants["r1"]).get_json()
    assert page["pagination"] == {"total": 3, "limit": 2, "offset": 0, "hasMore": True}
    rest = live_client.get("/api/jobs?limit=2&offset=2", headers=tenants["r1"]).get_json()
    listed = [job["id"] for job in page["data"] + rest["data"]]
    assert sorted(listed) == sorted(mine)
    assert {job["restaurantId"] for job in page["data"]} == {"r1"}
    capped = live_client.get("/api/jobs?limit=1000", headers=tenants["r1"]).get_json()
    assert capped["pagination"]["limit"] == 100
    for bad in ("limit=0", "limit=x", "offset=-1"):
        answer = live_client.get(f"/api/jobs?{bad}", headers=tenants["r1"])
        assert answer.status_code == 400, bad
        assert answer.get_json()["error"]["code"] == "invalid_parameter"


def test_admins_list_every_job_with_filters(live_client, tenants, send_job, live_runtime):
    send_job("slow_job", "test-slow", restaurant_id="r1", seconds=0)
    send_job("slow_job", "test-slow", restaurant_id="r2", seconds=0)
    send_job("flaky_job", "test-flaky", restaurant_id="r2", name="x")
    admin = tenants["admin"]

    def total(query):
        answer = live_client.get(f"/api/admin/jobs?{query}", headers=admin)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()["pagination"]["total"]

    assert total("") == 3
    assert total("restaurant=r2") == 2
    assert total("actor=flaky_job") == 1
    assert total("status=queued&restaurant=r1") == 1
    assert total("status=succeeded") == 0
    bad = live_client.get("/api/admin/jobs?status=exploded", headers=admin)
    assert (bad.status_code, bad.get_json()["error"]["code"]) == (400, "invalid_parameter")


def test_job_stats_count_by_status_and_actor_and_age_the_oldest_queued_job(
    live_client, tenants, send_job
):
    send_job("slow_job", "test-slow", restaurant_id="r1", seconds=0)
    send_job("flaky_job", "test-flaky", restaurant_id="r1", name="y")
    stats = live_client.get("/api/admin/jobs/stats", headers=tenants["admin"]).get_json()
    assert stats["byStatus"]["queued"] == 2
    assert stats["byStatus"]["dead"] == 0
    assert stats["byActor"] == {"slow_job": {"queued": 1}, "flaky_job": {"queued": 1}}
    assert stats["oldestQueued"]["ageSeconds"] >= 0
    assert stats["oldestQueued"]["createdAt"].endswith("Z")


def test_jobs_are_filtered_by_creation_time_and_a_malformed_time_is_refused(
    live_client, tenants, live_runtime
):
    import datetime as dt
    import uuid

    from store.models import Job

    start = dt.datetime(2025, 10, 20, 10, 0, tzinfo=dt.UTC)
    with live_runtime.transaction() as session:
        session.execute(
            Job.__table__.insert(),
            [
                {
                    "id": str(uuid.uuid4()),
                    "actor": "slow_job",
                    "queue": "test-slow",
                    "restaurant_id": "r1",
                    "status": "succeeded",
                    "created_at": start + dt.timedelta(hours=hours),
                    "updated_at": start + dt.timedelta(hours=hours),
                }
                for hours in (0, 2, 4)  # 10:00, 12:00 and 14:00 UTC
            ],
        )

    def created(path, query, headers=tenants["admin"]):
        answer = live_client.get(f"{path}?{query}", headers=headers)
        assert answer.status_code == 200, answer.get_json()
        return sorted(job["createdAt"][11:16] for job in answer.get_json()["data"])

    admin = "/api/admin/jobs"
    assert created(admin, "after=2025-10-20T12:00:00Z") == ["12:00", "14:00"]  # inclusive
    assert created(admin, "before=2025-10-20T12:00:00Z") == ["10:00"]  # exclusive
    assert created(admin, "after=2025-10-20T14:30:00%2B03:00&before=2025-10-20T13:00Z") == ["12:00"]
    assert created(admin, "after=2025-10-20&before=2025-10-21") == ["10:00", "12:00", "14:00"]
    assert created(admin, "after=&before=") == ["10:00", "12:00", "14:00"]  # empty: any
    assert created(admin, "after=2025-10-20T13:00:00.5z&restaurant=r1") == ["14:00"]
    assert created("/api/jobs", "before=2025-10-20T11:00Z", tenants["r1"]) == ["10:00"]
    assert created("/api/jobs", "after=2025-10-20T11:00Z", tenants["r2"]) == []
    for query in (
        "after=yesterday",
        "before=2025-13-45",
        "after=1760954400",
        "before=2025-10-20 10:00",
        "after=2025-10-20T10:00:00%2B0300",
    ):
        answer = live_client.get(f"{admin}?{query}", headers=tenants["admin"])
        assert answer.status_code == 400, query
        error = answer.get_json()["error"]
        assert error["code"] == "invalid_parameter"
        assert "ISO 8601" in error["message"], query
