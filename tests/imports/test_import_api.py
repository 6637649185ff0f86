"""`POST /api/imports` (SPEC §13): who may start an import, what it checks, one at a time."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from store.models import Job
from tests.usage_api.conftest import add_restaurant, admin_headers, owner_headers


@pytest.fixture
def world(db_session, settings):
    add_restaurant(db_session, settings, "r1", timezone="Asia/Riyadh")
    add_restaurant(db_session, settings, "r2")
    return {
        "r1": owner_headers(db_session, "r1"),
        "r2": owner_headers(db_session, "r2"),
        "admin": admin_headers(db_session),
    }


def post(client, headers, body=None, query=""):
    return client.post(f"/api/imports{query}", json=body, headers=headers)


def error_of(answer):
    return answer.status_code, answer.get_json()["error"]["code"]


def test_an_owner_starts_an_import_of_30_days_by_default(client, world, db_session):
    answer = post(client, world["r1"])
    assert answer.status_code == 202
    job_id = answer.get_json()["jobId"]
    assert answer.get_json() == {"jobId": job_id}
    assert answer.headers["Location"] == f"/api/jobs/{job_id}"
    job = db_session.get(Job, job_id)
    assert (job.actor, job.queue, job.restaurant_id, job.status) == (
        "import_orders",
        "imports",
        "r1",
        "queued",
    )
    kwargs = job.payload["kwargs"]
    assert (kwargs["restaurant_id"], kwargs["days"]) == ("r1", 30)
    assert kwargs["until"].endswith("Z")
    followed = client.get(f"/api/jobs/{job_id}", headers=world["r1"])
    assert (followed.status_code, followed.get_json()["status"]) == (200, "queued")


def test_the_owner_chooses_how_many_days(client, world, db_session):
    answer = post(client, world["r1"], {"days": 365})
    assert answer.status_code == 202
    assert db_session.get(Job, answer.get_json()["jobId"]).payload["kwargs"]["days"] == 365


@pytest.mark.parametrize("days", [0, 366, -1, "7", 7.5, True, None, [7]])
def test_days_outside_1_to_365_are_refused(client, world, days):
    answer = post(client, world["r1"], {"days": days})
    assert error_of(answer) == (400, "invalid_parameter")
    assert "days" in answer.get_json()["error"]["message"]


@pytest.mark.parametrize("raw", ["[1]", "not json", '"days"', "null"])
def test_a_body_that_is_not_a_json_object_is_refused(client, world, raw):
    answer = client.post(
        "/api/imports", data=raw, headers={**world["r1"], "Content-Type": "application/json"}
    )
    assert error_of(answer) == (400, "invalid_parameter")


def test_an_unknown_field_is_refused(client, world):
    assert error_of(post(client, world["r1"], {"dayz": 3})) == (400, "invalid_parameter")


def test_a_second_import_while_one_is_queued_answers_409_with_its_job_id(client, world):
    first = post(client, world["r1"]).get_json()["jobId"]
    answer = post(client, world["r1"], {"days": 3})
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert list(error) == ["code", "message", "jobId"]
    assert (error["code"], error["jobId"]) == ("import_running", first)
    assert first in error["message"]
    # Another restaurant imports meanwhile.
    assert post(client, world["r2"]).status_code == 202


@pytest.mark.parametrize("status", ["running", "partial"])
def test_an_import_running_or_waiting_for_its_retry_blocks_another(
    client, world, db_session, status
):
    first = post(client, world["r1"]).get_json()["jobId"]
    db_session.execute(update(Job).where(Job.id == first).values(status=status))
    assert error_of(post(client, world["r1"])) == (409, "import_running")


@pytest.mark.parametrize("status", ["succeeded", "failed", "dead"])
def test_once_the_import_ended_another_may_start(client, world, db_session, status):
    first = post(client, world["r1"]).get_json()["jobId"]
    db_session.execute(update(Job).where(Job.id == first).values(status=status))
    answer = post(client, world["r1"])
    assert answer.status_code == 202
    assert answer.get_json()["jobId"] != first


def test_an_admin_names_the_restaurant_in_the_body_or_the_query(client, world, db_session):
    in_body = post(client, world["admin"], {"restaurantId": "r1", "days": 2})
    in_query = post(client, world["admin"], {"days": 2}, "?restaurantId=r2")
    assert (in_body.status_code, in_query.status_code) == (202, 202)
    jobs = db_session.scalars(select(Job).where(Job.actor == "import_orders")).all()
    assert sorted(job.restaurant_id for job in jobs) == ["r1", "r2"]


def test_an_admin_key_without_a_restaurant_is_a_400(client, world):
    assert error_of(post(client, world["admin"], {"days": 2})) == (400, "missing_restaurant_id")


def test_an_unknown_restaurant_is_a_404_to_an_admin(client, world):
    assert error_of(post(client, world["admin"], {"restaurantId": "nope"})) == (404, "not_found")


def test_a_pat_for_another_restaurant_is_a_403(client, world):
    other = {**world["r1"], "X-Restaurant-Id": "r2"}
    assert error_of(post(client, other)) == (403, "forbidden")
    assert error_of(post(client, world["r1"], {"restaurantId": "r2"})) == (403, "forbidden")
    unknown = {**world["r1"], "X-Restaurant-Id": "nope"}
    assert error_of(post(client, unknown)) == (403, "forbidden")


def test_credentials_are_checked_as_everywhere(client, world):
    assert error_of(post(client, {})) == (401, "missing_credentials")
    assert error_of(post(client, {"X-API-Key": "rbkey_wrong"})) == (401, "invalid_credentials")
    no_restaurant = {"Authorization": world["r1"]["Authorization"]}
    assert error_of(post(client, no_restaurant)) == (400, "missing_restaurant_id")


def test_another_restaurants_import_job_is_a_404_to_an_owner(client, world):
    job_id = post(client, world["r1"]).get_json()["jobId"]
    assert error_of(client.get(f"/api/jobs/{job_id}", headers=world["r2"])) == (404, "not_found")


def test_many_requests_at_once_start_one_import(live_app, live_runtime, settings):
    with live_runtime.transaction() as session:
        add_restaurant(session, settings, "r1")
        headers = owner_headers(session, "r1")
    answers: list[str] = []
    ready = threading.Barrier(8)

    def request():
        client = live_app.test_client()
        ready.wait()
        body = post(client, headers).get_json()
        answers.append(body.get("jobId") or body["error"]["jobId"])

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with live_runtime.read_transaction() as session:
        jobs = session.scalars(select(Job.id).where(Job.actor == "import_orders")).all()
    assert len(jobs) == 1
    assert answers == [jobs[0]] * 8
