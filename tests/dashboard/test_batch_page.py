"""The Batches page: counts per status, batches newest first with their analysis jobs,
"Seal now" and "Analyze" — the API's own actions, audited the same way."""

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from insights import batches, folding
from insights.models import ConversationEvent, InsightBatch
from operations.models import AuditEntry
from store.models import Job
from tests.dashboard.conftest import csrf_of
from tests.insights.conftest import messages
from tests.usage_api.conftest import NOW

PAGE = "/dashboard/admin/batches"
MINUTE = dt.timedelta(minutes=1)


def rows(page: str) -> list[str]:
    """Return the batch ids of the page's rows, in order."""
    return re.findall(r'<tr data-batch="(\d+)"', page)


def tiles(page: str) -> list[str]:
    """Return the three key figures: events waiting, sealed batches, analyzed batches."""
    return re.findall(r'<span class="tile-value num">([^<]*)</span>', page)


def seal(runtime, restaurant_id=None, *, at=NOW) -> list[int]:
    return batches.seal_now(runtime.sessions, runtime.broker, at, restaurant_id)


def fold(runtime, batch_id) -> None:
    with runtime.transaction() as session:
        folding.fold_batch(session, batch_id, now=NOW)


def audit_entries(db_session) -> list[tuple]:
    db_session.expire_all()
    return [
        (e.key_prefix, e.action, e.filter, e.ids, e.count)
        for e in db_session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]


@pytest.fixture
def history(db_session, runtime, people, clock):
    """r1: an analyzed batch of 4 events, a sealed one of 3 (sealed 5 minutes ago), 2 events
    waiting since 3 minutes ago; r2: 1 waiting. The pages' clock says NOW."""
    messages(db_session, "r1", 4, NOW - MINUTE * 20)
    [analyzed] = seal(runtime, "r1", at=NOW - MINUTE * 19)
    fold(runtime, analyzed)
    messages(db_session, "r1", 3, NOW - MINUTE * 6)
    [sealed] = seal(runtime, "r1", at=NOW - MINUTE * 5)
    messages(db_session, "r1", 2, NOW - MINUTE * 3)
    messages(db_session, "r2", 1, NOW - MINUTE)
    return {"analyzed": analyzed, "sealed": sealed}


def test_the_page_counts_each_status_and_lists_batches_newest_first(admin, history, db_session):
    answer = admin.get(PAGE)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert tiles(page) == ["3", "1", "1"]  # 3 events wait; 1 sealed batch; 1 analyzed
    assert "at 2 restaurants; the oldest for 3 min" in page
    assert "3 events; the oldest sealed 5 min ago, analysis queued or running" in page
    assert "alarm" not in page
    listed = [int(n) for n in rows(page)]
    assert listed == sorted(listed, reverse=True)
    assert listed[-2:] == [history["sealed"], history["analyzed"]]  # the open ones are newer
    assert '<bdi dir="auto">مطعم الديوان</bdi>' in page
    sealed = db_session.get(InsightBatch, history["sealed"])
    assert f'data-job="{sealed.job_id}" data-state="queued"' in page
    assert f'href="/dashboard/admin/jobs?job={sealed.job_id}"' in page
    assert page.count('aria-label="Analyze batch') == 2  # sealed and analyzed, not open
    assert page.count("still collecting: seal first") == 2
    assert "Seal now: every restaurant" in page
    assert "Times in UTC" in page
    assert "Created (UTC)" in page


def test_events_nobody_seals_and_batches_nobody_analyzes_are_shown_red(admin, history, clock):
    clock.now = NOW + MINUTE * 13  # the oldest waiting event: 16 min, past 10 min + 5
    page = admin.get(PAGE).get_data(as_text=True)
    assert page.count('class="tile alarm"') == 1
    assert "the oldest for 16 min — ⚠ past the seal age: is the scheduler running?" in page
    clock.now = NOW + MINUTE * 56  # the oldest sealed batch: 61 min
    page = admin.get(PAGE).get_data(as_text=True)
    assert page.count('class="tile alarm"') == 2
    assert "the oldest sealed 1 h 1 min ago — ⚠ over an hour: are workers running?" in page


def test_the_page_filters_by_status_and_restaurant(admin, history):
    page = admin.get(f"{PAGE}?status=sealed").get_data(as_text=True)
    assert rows(page) == [str(history["sealed"])]
    page = admin.get(f"{PAGE}?restaurantId=r2").get_data(as_text=True)
    assert len(rows(page)) == 1
    assert tiles(page) == ["1", "0", "0"]  # the counts are of the filtered restaurant
    assert 'Seal now: <bdi dir="auto">Second Grill</bdi>' in page
    assert 'name="restaurantId" value="r2"' in page
    page = admin.get(f"{PAGE}?restaurantId=r2&status=analyzed").get_data(as_text=True)
    assert rows(page) == []
    assert "No batch matches these filters." in page


def test_with_no_batches_the_page_says_what_to_do_next(admin, people):
    page = admin.get(PAGE).get_data(as_text=True)
    assert "No batches yet." in page
    assert "Seal now" in page
    assert tiles(page) == ["0", "0", "0"]


@pytest.mark.parametrize("query", ["status=closed", "status=OPEN", "page=0", "restaurantId=a%00b"])
def test_a_bad_filter_is_a_400_page(admin, people, query):
    answer = admin.get(f"{PAGE}?{query}")
    assert answer.status_code == 400
    assert "invalid_parameter" in answer.get_data(as_text=True)
    assert admin.get(f"{PAGE}.json?{query}").get_json()["error"]["code"] == "invalid_parameter"


def test_seal_now_seals_every_restaurant_and_is_audited(admin, history, db_session, people):
    token = csrf_of(admin.get(PAGE).get_data(as_text=True))
    answer = admin.post(f"{PAGE}/seal", data={"csrf_token": token})
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{PAGE}?done=seal&count=2"
    db_session.expire_all()
    sealed = db_session.scalars(
        select(InsightBatch).where(InsightBatch.status == "sealed").order_by(InsightBatch.id)
    ).all()
    assert [(b.restaurant_id, b.events) for b in sealed] == [("r1", 3), ("r1", 2), ("r2", 1)]
    prefix = people.admin_key[:14]
    new_ids = [str(b.id) for b in sealed[1:]]
    assert audit_entries(db_session) == [(prefix, "batches.seal", {}, new_ids, 2)]
    page = admin.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Sealed 2 batches; their analysis jobs are queued" in page
    assert tiles(page) == ["0", "3", "1"]


def test_seal_now_on_a_filtered_page_seals_that_restaurant_only(admin, history, db_session):
    page = admin.get(f"{PAGE}?restaurantId=r2&status=open").get_data(as_text=True)
    answer = admin.post(f"{PAGE}/seal", data={"csrf_token": csrf_of(page), "restaurantId": "r2"})
    assert answer.headers["Location"] == f"{PAGE}?restaurantId=r2&done=seal&count=1"
    db_session.expire_all()
    [r2_batch] = db_session.scalars(select(InsightBatch).where(InsightBatch.restaurant_id == "r2"))
    assert (r2_batch.status, r2_batch.events) == ("sealed", 1)
    still_waiting = select(func.count()).where(ConversationEvent.batch_id.is_(None))
    assert db_session.scalar(still_waiting) == 2  # r1's
    [entry] = audit_entries(db_session)
    assert entry[1:] == ("batches.seal", {"restaurantId": "r2"}, [str(r2_batch.id)], 1)
    answer = admin.post(f"{PAGE}/seal", data={"csrf_token": csrf_of(page), "restaurantId": "r2"})
    page = admin.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Nothing was waiting, so no batch was sealed." in page
    answer = admin.post(f"{PAGE}/seal", data={"csrf_token": csrf_of(page), "restaurantId": "zz"})
    assert answer.status_code == 404
    assert "no restaurant with id &#39;zz&#39;" in answer.get_data(as_text=True)


def test_analyze_sends_a_job_and_says_when_it_will_change_nothing(
    admin, history, db_session, people
):
    page = admin.get(f"{PAGE}?status=sealed").get_data(as_text=True)
    token = csrf_of(page)
    answer = admin.post(
        f"{PAGE}/{history['sealed']}/analyze", data={"csrf_token": token, "back": "status=sealed"}
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    job_id = re.search(r"job=([0-9a-f-]+)", location).group(1)
    assert (
        location
        == f"{PAGE}?status=sealed&done=analyze&batch={history['sealed']}&job={job_id}&rerun=0"
    )
    db_session.expire_all()
    job = db_session.get(Job, job_id)
    assert (job.actor, job.payload["kwargs"]["batch_id"]) == ("analyze_batch", history["sealed"])
    assert db_session.get(InsightBatch, history["sealed"]).job_id == job_id
    page = admin.get(location).get_data(as_text=True)
    assert f"sent for batch #{history['sealed']}. The batch becomes analyzed" in page

    answer = admin.post(f"{PAGE}/{history['analyzed']}/analyze", data={"csrf_token": token})
    page = admin.get(answer.headers["Location"]).get_data(as_text=True)
    assert "already analyzed, so this job runs and changes nothing" in page
    prefix = people.admin_key[:14]
    assert audit_entries(db_session) == [
        (prefix, "batches.analyze", None, [str(history["sealed"])], 1),
        (prefix, "batches.analyze", None, [str(history["analyzed"])], 1),
    ]


def test_analyze_refuses_an_open_batch_and_an_unknown_one_and_changes_nothing(
    admin, history, db_session
):
    page = admin.get(f"{PAGE}?status=open").get_data(as_text=True)
    token = csrf_of(page)
    open_id = rows(page)[0]
    answer = admin.post(f"{PAGE}/{open_id}/analyze", data={"csrf_token": token})
    assert answer.status_code == 409
    assert "Seal it first" in answer.get_data(as_text=True)
    for missing in ("999999", str(2**64)):
        assert (
            admin.post(f"{PAGE}/{missing}/analyze", data={"csrf_token": token}).status_code == 404
        )
    assert audit_entries(db_session) == []


def test_a_viewer_sees_the_page_with_disabled_buttons_and_every_post_is_refused(
    viewer, history, db_session
):
    page = viewer.get(PAGE).get_data(as_text=True)
    assert "read-only key" in page
    assert len(rows(page)) == 4
    assert page.count(" disabled>") == 3  # seal now, and analyze on two batches
    token = csrf_of(page)
    for path in (f"{PAGE}/seal", f"{PAGE}/{history['sealed']}/analyze"):
        answer = viewer.post(path, data={"csrf_token": token})
        assert answer.status_code == 403, path
        assert "Read-only key" in answer.get_data(as_text=True)
    db_session.expire_all()
    statuses = db_session.scalars(select(InsightBatch.status).order_by(InsightBatch.id)).all()
    assert statuses[:2] == ["analyzed", "sealed"]
    assert "sealed" not in statuses[2:]
    assert db_session.scalar(select(func.count()).select_from(Job)) == 2  # the two seals'
    assert audit_entries(db_session) == []


def test_an_action_without_its_csrf_token_is_refused(admin, history, db_session):
    for path in (f"{PAGE}/seal", f"{PAGE}/{history['sealed']}/analyze"):
        answer = admin.post(path, data={"csrf_token": "forged"})
        assert answer.status_code == 400
        assert "csrf_failed" in answer.get_data(as_text=True)
    assert audit_entries(db_session) == []


def test_owners_cannot_reach_the_page(owner, people):
    assert owner.get(PAGE).status_code == 403
    assert owner.get(f"{PAGE}.json").status_code == 403


def test_the_polled_json_has_the_pages_jobs_and_batches_as_the_api_shows_them(admin, history):
    body = admin.get(f"{PAGE}.json?status=sealed").get_json()
    assert [b["id"] for b in body["batches"]] == [history["sealed"]]
    assert body["batches"][0]["status"] == "sealed"
    [job] = body["data"]
    assert (job["id"], job["status"], job["actor"]) == (
        body["batches"][0]["jobId"],
        "queued",
        "analyze_batch",
    )


def test_the_jobs_page_shows_one_job_when_asked(admin, history, db_session):
    sealed = db_session.get(InsightBatch, history["sealed"])
    page = admin.get(f"/dashboard/admin/jobs?job={sealed.job_id}").get_data(as_text=True)
    assert re.findall(r'<tr data-job="([^"]+)"', page) == [sealed.job_id]
    assert "Show every job" in page
    body = admin.get(f"/dashboard/admin/jobs.json?job={sealed.job_id}").get_json()
    assert [j["id"] for j in body["data"]] == [sealed.job_id]
    page = admin.get("/dashboard/admin/jobs?job=gone").get_data(as_text=True)
    assert "No job matches these filters." in page
