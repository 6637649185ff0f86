"""Batches: open → sealed → analyzed; sealed by size or age, never split, never empty."""

import datetime as dt
import functools
import operator

from sqlalchemy import func, select

from insights import batches
from insights.models import ConversationEvent, InsightBatch
from store.models import Job
from store.timeutil import utcnow
from tests.insights.conftest import messages
from tests.support import factories
from tests.support.threads import at_once
from tests.usage_api.conftest import admin_headers, owner_headers


def all_batches(session):
    session.expire_all()
    return session.scalars(select(InsightBatch).order_by(InsightBatch.id)).all()


def waiting(session, restaurant_id):
    return session.scalar(
        select(func.count())
        .select_from(ConversationEvent)
        .where(
            ConversationEvent.restaurant_id == restaurant_id, ConversationEvent.batch_id.is_(None)
        )
    )


def seal_due(runtime, now=None):
    return batches.seal_due(
        runtime.sessions,
        runtime.broker,
        max_events=runtime.settings.insight_batch_events,
        max_age_s=runtime.settings.insight_batch_max_age_s,
        now=now or utcnow(),
    )


def test_a_restaurant_holding_100_waiting_events_is_sealed_with_one_analysis_job(
    db_session, runtime, restaurant
):
    messages(db_session, restaurant.id, 99, utcnow())
    assert seal_due(runtime) == []
    messages(db_session, restaurant.id, 1, utcnow())
    [batch_id] = seal_due(runtime)
    [batch] = all_batches(db_session)
    assert (batch.id, batch.status, batch.events) == (batch_id, "sealed", 100)
    assert batch.sealed_at is not None
    job = db_session.get(Job, batch.job_id)
    assert (job.actor, job.queue, job.restaurant_id) == ("analyze_batch", "insights", restaurant.id)
    assert job.payload["kwargs"] == {"batch_id": batch_id, "restaurant_id": restaurant.id}
    assert job.enqueued_at is not None
    assert waiting(db_session, restaurant.id) == 0


def test_a_batch_older_than_ten_minutes_is_sealed_whatever_its_size(
    db_session, runtime, restaurant
):
    now = utcnow()
    messages(db_session, restaurant.id, 1, now - dt.timedelta(seconds=599))
    assert seal_due(runtime, now) == []
    assert seal_due(runtime, now + dt.timedelta(seconds=2)) != []
    [batch] = all_batches(db_session)
    assert (batch.status, batch.events) == ("sealed", 1)


def test_a_sealed_batch_holds_everything_that_was_waiting_never_split(
    db_session, runtime, restaurant
):
    messages(db_session, restaurant.id, 250, utcnow())
    seal_due(runtime)
    assert [(b.status, b.events) for b in all_batches(db_session)] == [("sealed", 250)]


def test_nothing_waiting_seals_nothing(db_session, runtime, restaurant):
    assert batches.seal_now(runtime.sessions, runtime.broker, utcnow()) == []
    assert all_batches(db_session) == []


def test_events_after_a_seal_wait_in_a_new_open_batch(db_session, runtime, restaurant):
    messages(db_session, restaurant.id, 3, utcnow())
    [first] = batches.seal_now(runtime.sessions, runtime.broker, utcnow())
    messages(db_session, restaurant.id, 2, utcnow())
    with runtime.transaction() as session:
        batches.ensure_open(session)
    sealed, still_open = all_batches(db_session)
    assert (sealed.id, sealed.status, sealed.events) == (first, "sealed", 3)
    assert still_open.status == "open"
    [second] = batches.seal_now(runtime.sessions, runtime.broker, utcnow())
    assert second == still_open.id  # the open batch is the one that gets sealed
    assert [(b.status, b.events) for b in all_batches(db_session)] == [
        ("sealed", 3),
        ("sealed", 2),
    ]


def test_each_restaurant_has_its_own_batches(db_session, runtime, settings, restaurant):
    other = factories.restaurant(db_session, settings)
    messages(db_session, restaurant.id, 2, utcnow())
    messages(db_session, other.id, 3, utcnow())
    assert len(batches.seal_now(runtime.sessions, runtime.broker, utcnow(), restaurant.id)) == 1
    assert [(b.restaurant_id, b.events) for b in all_batches(db_session)] == [(restaurant.id, 2)]
    assert waiting(db_session, other.id) == 3


def test_sealers_racing_put_every_event_in_exactly_one_batch(live_runtime, settings):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
        messages(session, restaurant.id, 40, utcnow())
    now = utcnow()
    results = at_once(
        [lambda: batches.seal_now(live_runtime.sessions, live_runtime.broker, now)] * 4
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    with live_runtime.transaction() as session:
        rows = all_batches(session)
        assert [(b.status, b.events) for b in rows] == [("sealed", 40)]
        assert sorted(functools.reduce(operator.iadd, results, [])) == [rows[0].id]
        assert waiting(session, restaurant.id) == 0


# -- the admin API -----------------------------------------------------------------------


def listed(client, headers, query=""):
    answer = client.get(f"/api/admin/batches{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_the_batch_list_shows_open_and_sealed_batches_newest_first(
    client, db_session, runtime, restaurant
):
    admin = admin_headers(db_session)
    messages(db_session, restaurant.id, 3, utcnow())
    [sealed_id] = batches.seal_now(runtime.sessions, runtime.broker, utcnow())
    messages(db_session, restaurant.id, 2, utcnow())
    page = listed(client, admin)
    assert page["pagination"] == {"total": 2, "limit": 20, "offset": 0, "hasMore": False}
    still_open, sealed = page["data"]
    assert list(sealed) == [
        "id", "restaurantId", "status", "events", "createdAt", "sealedAt", "analyzedAt", "jobId",
    ]  # fmt: skip
    assert (sealed["id"], sealed["status"], sealed["events"]) == (sealed_id, "sealed", 3)
    assert sealed["sealedAt"].endswith("Z")
    assert sealed["analyzedAt"] is None
    assert sealed["jobId"] is not None
    assert (still_open["status"], still_open["events"], still_open["restaurantId"]) == (
        "open",
        2,
        restaurant.id,
    )
    assert still_open["sealedAt"] is None
    assert still_open["jobId"] is None
    assert [b["id"] for b in listed(client, admin, "?status=open")["data"]] == [still_open["id"]]
    assert [b["id"] for b in listed(client, admin, "?status=sealed")["data"]] == [sealed_id]
    assert listed(client, admin, "?restaurantId=nobody")["data"] == []
    assert listed(client, admin, "?limit=1&offset=1")["data"] == [sealed]


def test_the_batch_list_refuses_an_unknown_status_and_owners(client, db_session, restaurant):
    admin = admin_headers(db_session)
    for status in ("closed", ""):
        answer = client.get(f"/api/admin/batches?status={status}", headers=admin)
        assert answer.status_code == 400
        assert answer.get_json()["error"]["code"] == "invalid_parameter"
    answer = client.get("/api/admin/batches", headers=owner_headers(db_session, restaurant.id))
    assert answer.status_code == 403
    assert client.get("/api/admin/batches").status_code == 401


def test_seal_now_seals_what_waits_and_names_the_batches(client, db_session, settings, restaurant):
    admin = admin_headers(db_session)
    other = factories.restaurant(db_session, settings)
    messages(db_session, restaurant.id, 2, utcnow())
    messages(db_session, other.id, 1, utcnow())
    answer = client.post(f"/api/admin/batches/seal?restaurantId={restaurant.id}", headers=admin)
    assert answer.status_code == 200
    [first] = answer.get_json()["sealed"]
    answer = client.post("/api/admin/batches/seal", headers=admin)
    [second] = answer.get_json()["sealed"]
    assert {(b.id, b.restaurant_id, b.events) for b in all_batches(db_session)} == {
        (first, restaurant.id, 2),
        (second, other.id, 1),
    }
    assert client.post("/api/admin/batches/seal", headers=admin).get_json() == {"sealed": []}
    answer = client.post("/api/admin/batches/seal?restaurantId=nobody", headers=admin)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (404, "not_found")


def test_analyze_sends_a_job_for_a_sealed_or_analyzed_batch_and_refuses_an_open_one(
    client, db_session, runtime, restaurant
):
    admin = admin_headers(db_session)
    messages(db_session, restaurant.id, 2, utcnow())
    [sealed_id] = batches.seal_now(runtime.sessions, runtime.broker, utcnow())
    messages(db_session, restaurant.id, 1, utcnow())
    [still_open] = listed(client, admin, "?status=open")["data"]

    answer = client.post(f"/api/admin/batches/{still_open['id']}/analyze", headers=admin)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (409, "conflict")
    answer = client.post(f"/api/admin/batches/{sealed_id}/analyze", headers=admin)
    assert answer.status_code == 202
    job = db_session.get(Job, answer.get_json()["jobId"])
    assert (job.actor, job.payload["kwargs"]["batch_id"]) == ("analyze_batch", sealed_id)
    assert db_session.get(InsightBatch, sealed_id).job_id == job.id
    answer = client.post("/api/admin/batches/999999/analyze", headers=admin)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (404, "not_found")
    answer = client.post(f"/api/admin/batches/{2**64}/analyze", headers=admin)
    assert answer.status_code == 404
    owner = owner_headers(db_session, restaurant.id)
    assert client.post(f"/api/admin/batches/{sealed_id}/analyze", headers=owner).status_code == 403


def test_sealing_again_and_again_on_one_connection_keeps_working(db_session, runtime, restaurant):
    # psycopg prepares a statement on its sixth run, and PostgreSQL then plans it generic
    # after five more: a partial-index predicate given as a bound parameter no longer
    # matches ("no unique or exclusion constraint matching the ON CONFLICT").
    for _ in range(16):
        messages(db_session, restaurant.id, 1, utcnow())
        assert len(batches.seal_now(runtime.sessions, runtime.broker, utcnow())) == 1
    assert [b.events for b in all_batches(db_session)] == [1] * 16


def test_seal_and_analyze_are_in_the_audit_log_with_who_did_them(
    client, db_session, runtime, restaurant
):
    admin = admin_headers(db_session)
    messages(db_session, restaurant.id, 2, utcnow())
    answer = client.post(f"/api/admin/batches/seal?restaurantId={restaurant.id}", headers=admin)
    [sealed] = answer.get_json()["sealed"]
    assert client.post(f"/api/admin/batches/{sealed}/analyze", headers=admin).status_code == 202
    entries = client.get("/api/admin/audit", headers=admin).get_json()["data"]
    prefix = admin["X-API-Key"][:14]
    assert [(e["action"], e["ids"], e["count"], e["keyPrefix"]) for e in entries[:2]] == [
        ("batches.analyze", [str(sealed)], 1, prefix),
        ("batches.seal", [str(sealed)], 1, prefix),
    ]
    assert entries[1]["filter"] == {"restaurantId": restaurant.id}
