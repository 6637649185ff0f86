"""Jobs and dead letters pages: filters, bad filters, actions and their guard."""

import datetime as dt

import pytest

from operations.models import AuditEntry
from store.models import Job
from tests.dashboard.conftest import csrf_of
from tests.support.dashboard_data import put_dead_letter
from tests.usage_api.conftest import NOW


def job(db_session, job_id, status, created, **values):
    db_session.add(
        Job(
            id=job_id,
            actor=values.pop("actor", "welcome_bootstrap"),
            queue="bootstrap",
            restaurant_id=values.pop("restaurant_id", "r1"),
            status=status,
            created_at=created,
            updated_at=created,
            **values,
        )
    )
    db_session.flush()


@pytest.fixture
def jobs(db_session, people):
    job(db_session, "old-dead", "dead", NOW - dt.timedelta(days=2), error="CatalogUnavailable: x")
    job(
        db_session,
        "new-run",
        "running",
        NOW,
        progress_done=2,
        progress_total=5,
        progress_step="fetching branches",
        restaurant_id="r2",
        actor="deliver_message",
    )


def test_jobs_are_filtered_by_status_actor_restaurant_and_time(admin, jobs):
    assert "new-run" in admin.get("/dashboard/admin/jobs").get_data(as_text=True)
    for query, shown, hidden in [
        ("status=dead", "old-dead", "new-run"),
        ("actor=deliver_message", "new-run", "old-dead"),
        ("restaurant=r1", "old-dead", "new-run"),
        (f"after={(NOW - dt.timedelta(hours=1)):%Y-%m-%dT%H:%M}", "new-run", "old-dead"),
        (f"before={(NOW - dt.timedelta(days=1)):%Y-%m-%dT%H:%M}", "old-dead", "new-run"),
    ]:
        page = admin.get(f"/dashboard/admin/jobs?{query}").get_data(as_text=True)
        assert f'data-job="{shown}"' in page, query
        assert f'data-job="{hidden}"' not in page, query


def test_the_jobs_json_is_the_apis_job_object_for_the_same_filters(admin, jobs):
    body = admin.get("/dashboard/admin/jobs.json?status=running").get_json()
    assert [j["id"] for j in body["data"]] == ["new-run"]
    assert body["data"][0]["progress"] == {"done": 2, "total": 5, "step": "fetching branches"}


@pytest.mark.parametrize(
    "query", ["status=sleeping", "after=yesterday", "before=2025-13-40T10:00", "page=-1"]
)
def test_bad_job_filters_are_a_400_page(admin, jobs, query):
    answer = admin.get(f"/dashboard/admin/jobs?{query}")
    assert answer.status_code == 400
    assert "invalid_parameter" in answer.get_data(as_text=True)
    assert admin.get(f"/dashboard/admin/jobs.json?{query}").get_json()["error"]["code"] == (
        "invalid_parameter"
    )


@pytest.fixture
def letters(runtime, people):
    made = {}
    for name, error_class, restaurant, minutes in [
        ("a", "CatalogUnavailable", "r1", 10),
        ("b", "CatalogUnavailable", "r2", 20),
        ("c", "TwilioError:63016", "r1", 30),
    ]:
        made[name] = put_dead_letter(
            runtime,
            actor="welcome_bootstrap" if name != "c" else "deliver_message",
            queue="bootstrap" if name != "c" else "delivery",
            kwargs={"restaurant_id": restaurant},
            error_class=error_class,
            last_error=f"{error_class}: failed",
            at=NOW - dt.timedelta(minutes=minutes),
        )
    return made


def test_dead_letters_are_filtered_by_actor_restaurant_error_class_and_time(admin, letters):
    for query, shown in [
        ("", {"a", "b", "c"}),
        ("errorClass=CatalogUnavailable", {"a", "b"}),
        ("restaurantId=r1", {"a", "c"}),
        ("actor=deliver_message", {"c"}),
        (f"after={(NOW - dt.timedelta(minutes=15)):%Y-%m-%dT%H:%M}", {"a"}),
        ("before=2025-10-20T15:15:00Z", {"b", "c"}),
    ]:
        page = admin.get(f"/dashboard/admin/dead-letters?{query}").get_data(as_text=True)
        assert {n for n, i in letters.items() if f'value="{i}"' in page} == shown, query


@pytest.mark.parametrize("query", ["after=soon", "errorClass=not a class", "page=0"])
def test_bad_dead_letter_filters_are_a_400_page(admin, letters, query):
    assert admin.get(f"/dashboard/admin/dead-letters?{query}").status_code == 400


def test_retrying_one_letter_puts_it_back_and_records_who(admin, letters, runtime, db_session):
    page = admin.get("/dashboard/admin/dead-letters").get_data(as_text=True)
    answer = admin.post(
        f"/dashboard/admin/dead-letters/{letters['a']}/retry",
        data={"csrf_token": csrf_of(page), "back": ""},
    )
    assert answer.status_code == 302
    assert "1 dead letter(s) put back" in admin.get(answer.headers["Location"]).get_data(
        as_text=True
    )
    ns = runtime.settings.redis_namespace
    assert runtime.redis.llen(f"{ns}:bootstrap") == 1
    [entry] = db_session.query(AuditEntry).all()
    assert (entry.action, entry.ids, entry.count) == ("dead_letters.retry", [letters["a"]], 1)
    assert entry.key_prefix.startswith("rbkey_")


def test_deleting_the_selected_letters(admin, letters, runtime):
    page = admin.get("/dashboard/admin/dead-letters").get_data(as_text=True)
    answer = admin.post(
        "/dashboard/admin/dead-letters/selected",
        data={"csrf_token": csrf_of(page), "ids": [letters["b"], letters["c"]], "action": "delete"},
    )
    assert answer.status_code == 302
    remaining = admin.get("/dashboard/admin/dead-letters").get_data(as_text=True)
    assert letters["a"] in remaining
    assert letters["b"] not in remaining
    assert letters["c"] not in remaining


def test_every_match_is_retried_after_a_preview_and_a_stale_preview_does_nothing(
    admin, letters, runtime
):
    preview = admin.get(
        "/dashboard/admin/dead-letters/confirm?action=retry&errorClass=CatalogUnavailable"
    )
    text = preview.get_data(as_text=True)
    assert "Retry 2 dead letters?" in text
    assert 'name="expect" value="2"' in text
    fields = {"csrf_token": csrf_of(text), "action": "retry", "errorClass": "CatalogUnavailable"}
    stale = admin.post("/dashboard/admin/dead-letters/bulk", data={**fields, "expect": "3"})
    assert stale.status_code == 409
    assert "Nothing was done" in stale.get_data(as_text=True)
    ns = runtime.settings.redis_namespace
    assert runtime.redis.zcard(f"{ns}:bootstrap.XQ") == 2
    done = admin.post("/dashboard/admin/dead-letters/bulk", data={**fields, "expect": "2"})
    assert done.status_code == 302
    assert runtime.redis.zcard(f"{ns}:bootstrap.XQ") == 0
    assert runtime.redis.llen(f"{ns}:bootstrap") == 2


def test_a_bulk_action_without_its_expected_count_is_refused(admin, letters):
    page = admin.get("/dashboard/admin/dead-letters").get_data(as_text=True)
    answer = admin.post(
        "/dashboard/admin/dead-letters/bulk", data={"csrf_token": csrf_of(page), "action": "retry"}
    )
    assert answer.status_code == 400
