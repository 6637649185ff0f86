"""The owner's Jobs page (SPEC §13–14): the restaurant's own jobs in its owner's words, and
"Import order history" started through the API's own function, one at a time."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from store.models import Job
from tests.dashboard.conftest import NOW, csrf_of
from tests.usage_api.conftest import owner_headers

PAGE = "/dashboard/r/r1/jobs"
START = "/dashboard/r/r1/jobs/import"


def add_jobs(session, rows: list[dict]) -> None:
    defaults = {
        "queue": "bootstrap",
        "status": "succeeded",
        "updated_at": NOW,
        "attempts": 1,
        "progress_done": 0,
        "progress_total": 0,
        "progress_step": None,
        "payload": None,
        "result": None,
        "error": None,
        "finished_at": None,
    }
    session.execute(Job.__table__.insert(), [{**defaults, **row} for row in rows])
    session.flush()


@pytest.fixture
def history(db_session, people):
    """r1: a finished import, a menu prefetch that failed, a resend running; r2: one job."""
    add_jobs(
        db_session,
        [
            {
                "id": "imp-1",
                "actor": "import_orders",
                "queue": "imports",
                "restaurant_id": "r1",
                "created_at": NOW - dt.timedelta(hours=3),
                "finished_at": NOW - dt.timedelta(hours=2, minutes=58),
                "progress_done": 2345,
                "progress_total": 2345,
                "progress_step": "done",
                "payload": {"kwargs": {"restaurant_id": "r1", "days": 30}},
                "result": {"orders": 2345, "days": 30, "pages": 61},
            },
            {
                "id": "boot-1",
                "actor": "welcome_bootstrap",
                "restaurant_id": "r1",
                "status": "dead",
                "attempts": 4,
                "created_at": NOW - dt.timedelta(hours=1),
                "finished_at": NOW - dt.timedelta(minutes=50),
                "error": "CatalogUnavailable: the breaker of merchant-r1 is open",
            },
            {
                "id": "send-1",
                "actor": "deliver_message",
                "queue": "delivery",
                "restaurant_id": "r1",
                "status": "running",
                "created_at": NOW - dt.timedelta(minutes=5),
                "progress_done": 1,
                "progress_total": 3,
                "progress_step": "sending",
            },
            {
                "id": "other-1",
                "actor": "welcome_bootstrap",
                "restaurant_id": "r2",
                "created_at": NOW - dt.timedelta(minutes=1),
            },
        ],
    )


def jobs_of(session, restaurant_id="r1", actor="import_orders") -> list[Job]:
    return list(
        session.scalars(
            select(Job).where(Job.restaurant_id == restaurant_id, Job.actor == actor)
        ).all()
    )


def start(client, page: str | None = None, **fields):
    page = page or client.get(PAGE).get_data(as_text=True)
    return client.post(START, data={"csrf_token": csrf_of(page), **fields})


def test_the_page_lists_the_restaurants_own_jobs_newest_first_in_its_owners_words(
    owner, history, clock
):
    answer = owner.get(PAGE)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    rows = re.findall(r'<tr data-job="([^"]+)"', page)
    assert rows == ["send-1", "boot-1", "imp-1"]  # newest first, r2's job not there
    assert "Order history import" in page
    assert "Menu prefetch" in page
    assert "Message resend" in page
    # Times in the restaurant's zone, the zone said: 12:30 UTC is 15:30 in Riyadh.
    assert "Asia/Riyadh" in page
    assert '<time datetime="2025-10-20T12:30:00.000Z">2025-10-20 15:30</time>' in page
    # A failed job says what happened in plain words, not the exception.
    assert "Your ordering platform did not answer" in page
    assert "CatalogUnavailable" not in page
    # The finished import, with its true count, its period and the way to its orders.
    assert "Imported 2,345 orders from the last 30 days." in page
    assert "Started 2025-10-20 15:30, finished 15:32 (Asia/Riyadh)." in page
    assert 'href="/dashboard/r/r1/insights"' in page
    assert '<progress class="import-bar" max="2345" value="2345"' in page
    assert "1 of 3 · sending" in page
    assert '<bdi dir="auto">مطعم الديوان</bdi>' in page
    assert 'data-poll="/dashboard/r/r1/jobs.json"' in page


def test_an_owner_without_jobs_reads_that_there_are_none_and_how_to_start(owner):
    page = owner.get(PAGE).get_data(as_text=True)
    assert "No jobs yet." in page
    assert "No import yet." in page
    assert "Import order history</button>" in page


def test_the_page_costs_the_same_statements_with_few_and_many_jobs(
    owner, history, db_session, statements
):
    owner.get(PAGE)  # the session's first use is recorded once

    def count(path):
        statements.clear()
        assert owner.get(path).status_code == 200
        return len(statements)

    few = (count(PAGE), count(PAGE + ".json"))
    add_jobs(
        db_session,
        [
            {
                "id": f"many-{n}",
                "actor": ["welcome_bootstrap", "import_orders"][n % 2],
                "restaurant_id": "r1",
                "status": ["succeeded", "dead"][n % 2],
                "created_at": NOW - dt.timedelta(days=1, minutes=n),
            }
            for n in range(120)
        ],
    )
    many = (count(PAGE), count(PAGE + ".json"))
    assert few == many
    # Who is signed in, the restaurant, the page of jobs and its count, the latest import
    # (not counted: a count of one restaurant's imports can read the whole table on
    # PostgreSQL), with the test session's SAVEPOINTs around each transaction.
    assert few[0] <= 10, "\n".join(sql.split("\n")[0][:90] for sql in statements.statements)


def test_starting_an_import_redirects_to_the_page_with_the_job_queued(owner, db_session, clock):
    answer = start(owner, days="90")
    assert answer.status_code == 302
    [job] = jobs_of(db_session)
    assert (job.status, job.payload["kwargs"]["days"]) == ("queued", 90)
    assert answer.headers["Location"] == f"{PAGE}?started={job.id}"
    page = owner.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Import started." in page
    assert f'<div class="import-job" data-job="{job.id}" data-state="queued">' in page
    assert "Waiting to start: importing the last 90 days of orders." in page
    # No second start while it runs: the form is there for when it ends, hidden till then.
    assert re.search(
        r'<form class="import-form"[^>]*data-shown-when="succeeded failed dead" hidden', page
    )


def test_a_second_start_while_one_runs_shows_the_running_one_and_starts_nothing(
    owner, db_session, clock
):
    first = start(owner)
    [job] = jobs_of(db_session)
    second = start(owner, days="7")
    assert second.status_code == 302
    assert second.headers["Location"] == f"{PAGE}?running={job.id}"
    assert [j.id for j in jobs_of(db_session)] == [job.id]
    page = owner.get(second.headers["Location"]).get_data(as_text=True)
    assert "An import is already running for your restaurant, so no second one was started." in page
    assert f'data-job="{job.id}"' in page
    assert first.headers["Location"] != second.headers["Location"]


def test_a_start_without_the_csrf_token_is_refused_and_starts_nothing(owner, db_session):
    answer = owner.post(START, data={"days": "30"})
    assert answer.status_code == 400
    assert "Form expired" in answer.get_data(as_text=True)
    assert jobs_of(db_session) == []


@pytest.mark.parametrize("days", ["0", "366", "x", "-1", "30.5"])
def test_a_period_outside_1_to_365_days_is_refused(owner, db_session, days):
    assert start(owner, days=days).status_code == 400
    assert jobs_of(db_session) == []


def test_an_admin_sees_the_page_read_only_and_cannot_start(admin, history, db_session):
    page = admin.get(PAGE).get_data(as_text=True)
    assert "its owner's view, read-only" in page
    assert "Import order history</button>" not in page
    assert "Only the restaurant's owner starts an import" in page
    answer = start(admin, page=page)
    assert answer.status_code == 403
    assert [j.id for j in jobs_of(db_session)] == ["imp-1"]


def test_a_viewer_cannot_start_an_import(viewer, history, db_session):
    page = viewer.get(PAGE).get_data(as_text=True)
    assert "Import order history</button>" not in page
    assert start(viewer, page=page).status_code == 403
    assert [j.id for j in jobs_of(db_session)] == ["imp-1"]


def test_another_restaurants_jobs_are_not_found(owner, history, db_session):
    assert owner.get("/dashboard/r/r2/jobs").status_code == 404
    assert owner.get("/dashboard/r/r2/jobs.json").status_code == 404
    page = owner.get(PAGE).get_data(as_text=True)
    answer = owner.post("/dashboard/r/r2/jobs/import", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 404
    assert jobs_of(db_session, "r2") == []


def test_an_unknown_restaurant_is_not_found_even_to_an_admin(admin):
    assert admin.get("/dashboard/r/nope/jobs").status_code == 404


def test_signed_out_the_page_sends_to_sign_in_and_its_json_answers_401(client, people):
    answer = client.get(PAGE)
    assert (answer.status_code, answer.headers["Location"]) == (302, "/dashboard/login")
    assert client.get(PAGE + ".json").status_code == 401


def test_the_polled_json_has_the_apis_job_objects_and_the_pages_words(
    owner, history, db_session, client
):
    polled = owner.get(PAGE + ".json").get_json()
    api = client.get("/api/jobs", headers=owner_headers(db_session, "r1")).get_json()
    assert polled["data"] == api["data"]
    assert polled["total"] == 3
    assert polled["words"]["imp-1"]["summary"] == "Imported 2,345 orders from the last 30 days."
    assert polled["words"]["boot-1"] == {
        "status": "failed",
        "progress": "",
        "error": "Your ordering platform did not answer (it was down or too slow).",
    }


def test_the_json_also_follows_the_latest_import_when_it_is_on_an_older_page(
    owner, history, db_session
):
    add_jobs(
        db_session,
        [
            {
                "id": f"new-{n}",
                "actor": "welcome_bootstrap",
                "restaurant_id": "r1",
                "created_at": NOW - dt.timedelta(seconds=n),
            }
            for n in range(25)
        ],
    )
    polled = owner.get(PAGE + ".json").get_json()
    ids = [job["id"] for job in polled["data"]]
    assert ids[-1] == "imp-1"
    assert len(ids) == 21
    page = owner.get(PAGE).get_data(as_text=True)
    assert "Older →" in page
    assert owner.get(PAGE + "?page=2").status_code == 200


def test_a_failed_import_says_what_happened_and_that_the_owner_can_try_again(
    owner, db_session, people
):
    add_jobs(
        db_session,
        [
            {
                "id": "imp-dead",
                "actor": "import_orders",
                "queue": "imports",
                "restaurant_id": "r1",
                "status": "dead",
                "created_at": NOW,
                "finished_at": NOW,
                "progress_done": 420,
                "progress_total": 1800,
                "payload": {"kwargs": {"restaurant_id": "r1", "days": 30}},
                "error": "RetryLater: catalog answered 503 to GET /merchants/m/orders",
            }
        ],
    )
    page = owner.get(PAGE).get_data(as_text=True)
    assert (
        "The import stopped. Your ordering platform did not answer (it was down or too slow)."
        " The 420 orders it stored are kept; you can try again." in page
    )
    assert "420 of about 1,800 orders" in page
    form = re.search(r'<form class="import-form"[^>]*>', page)
    assert form
    assert " hidden" not in form.group(0)
