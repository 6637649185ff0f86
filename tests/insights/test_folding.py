"""Folding a batch into the hourly aggregates, exactly once under at-least-once delivery.

Real Redis and a real database (SQLite, and PostgreSQL with TEST_DATABASE_URL): a
duplicate delivery, a replay from the dead letters, a manual analysis of an analyzed
batch, two workers racing on one batch, and a fold that dies half-way change no aggregate
twice.
"""

import datetime as dt

import dramatiq
import pytest
from sqlalchemy import select

from insights import batches, folding
from insights.models import InsightBatch, RestaurantInsight
from store.models import Job
from tests.insights.conftest import add_events, aggregates, messages, total
from tests.support import factories
from tests.support.processes import on_rabbitmq
from tests.support.threads import at_once
from tests.support.waiting import wait_until
from tests.usage_api.conftest import admin_headers

H10 = dt.datetime(2025, 10, 20, 10, 0, tzinfo=dt.UTC)
H11 = H10 + dt.timedelta(hours=1)


def at(hour, minute=0):
    return hour + dt.timedelta(minutes=minute)


def seal(runtime, restaurant_id):
    [batch_id] = batches.seal_now(runtime.sessions, runtime.broker, H11, restaurant_id)
    return batch_id


def fold(runtime, batch_id, now=H11):
    with runtime.transaction() as session:
        return folding.fold_batch(session, batch_id, now=now)


def test_a_batch_folds_into_its_hours_as_counted_by_hand(db_session, runtime, restaurant):
    add_events(
        db_session,
        restaurant.id,
        [
            ("message_in", at(H10, 5), 1, {"opened": True, "returning": False}),
            ("welcome_sent", at(H10, 5), 1),
            ("message_in", at(H10, 6), 1),
            ("menu_shown", at(H10, 6), 1),
            ("message_in", at(H10, 7), 1),
            ("category_opened", at(H10, 7), 1, {"categoryId": "grills"}),
            ("message_in", at(H10, 8), 1),
            ("menu_shown", at(H10, 8), 1),  # a second look: 2 showings, 1 conversation
            ("message_in", at(H11, 1), 2, {"opened": True, "returning": True}),
            ("welcome_sent", at(H11, 1), 2),
            ("message_in", at(H11, 2), 2),
            ("unrecognised_text", at(H11, 2), 2, {"text": "do you deliver?"}),
            ("help_shown", at(H11, 2), 2),
            ("delivery_failed", at(H11, 3), 2, {"errorCode": "63016"}),
            ("message_in", at(H11, 4), 2),
            ("branch_chosen", at(H11, 4), 2, {"branchId": "olaya"}),
        ],
    )
    result = fold(runtime, seal(runtime, restaurant.id))
    assert (result.folded, result.events) == (True, 16)
    stored = aggregates(db_session, restaurant.id)
    ten, eleven = stored["hourly"][H10], stored["hourly"][H11]
    assert {k: v for k, v in ten.items() if v} == {
        "conversations": 1,
        "new_customers": 1,
        "messages_in": 4,
        "welcomes": 1,
        "menu_shown": 2,
        "category_opens": 1,
        "reached_welcome": 1,
        "reached_menu": 1,
        "reached_category": 1,
    }
    assert {k: v for k, v in eleven.items() if v} == {
        "conversations": 1,
        "returning_customers": 1,
        "messages_in": 3,
        "welcomes": 1,
        "branch_choices": 1,
        "help_shown": 1,
        "unrecognised_texts": 1,
        "delivery_failures": 1,
        "reached_welcome": 1,
        "reached_branch": 1,
    }
    assert stored["keys"] == {
        (H10, "category", "grills"): 1,
        (H11, "branch", "olaya"): 1,
        (H11, "error_code", "63016"): 1,
    }
    assert stored["texts"] == {(H11, "do you deliver?"): 1}
    state = db_session.get(RestaurantInsight, restaurant.id)
    assert state.fresh_as_of == at(H11, 4)
    batch = db_session.get(InsightBatch, result.batch_id)
    assert (batch.status, batch.analyzed_at) == ("analyzed", H11)


def test_folding_an_analyzed_batch_again_changes_nothing(db_session, runtime, restaurant):
    messages(db_session, restaurant.id, 3, H10)
    batch_id = seal(runtime, restaurant.id)
    fold(runtime, batch_id)
    before = aggregates(db_session, restaurant.id)
    again = fold(runtime, batch_id)
    assert (again.folded, again.events) == (False, 3)
    assert aggregates(db_session, restaurant.id) == before
    assert total(db_session, restaurant.id, "messages_in") == 3


def test_a_conversation_counts_once_per_funnel_step_however_many_batches_hold_it(
    db_session, runtime, restaurant
):
    add_events(db_session, restaurant.id, [("menu_shown", at(H10, 30), 7)])
    fold(runtime, seal(runtime, restaurant.id))
    add_events(db_session, restaurant.id, [("menu_shown", at(H11, 10), 7)])
    fold(runtime, seal(runtime, restaurant.id))
    hourly = aggregates(db_session, restaurant.id)["hourly"]
    assert (hourly[H10]["reached_menu"], hourly[H11]["reached_menu"]) == (1, 0)
    assert (hourly[H10]["menu_shown"], hourly[H11]["menu_shown"]) == (1, 1)

    # A worker's late reply dated before the first one: the conversation moves to that hour.
    h09 = H10 - dt.timedelta(hours=1)
    add_events(db_session, restaurant.id, [("menu_shown", at(h09, 50), 7)])
    fold(runtime, seal(runtime, restaurant.id))
    hourly = aggregates(db_session, restaurant.id)["hourly"]
    assert [hourly[h]["reached_menu"] for h in (h09, H10, H11)] == [1, 0, 0]
    assert total(db_session, restaurant.id, "menu_shown") == 3


def test_a_fold_that_dies_half_way_leaves_the_batch_sealed_for_its_retry(
    db_session, runtime, restaurant, monkeypatch
):
    messages(db_session, restaurant.id, 2, H10)
    batch_id = seal(runtime, restaurant.id)

    def broken(*_args, **_kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(folding, "_write", broken)
    with pytest.raises(RuntimeError):
        fold(runtime, batch_id)
    db_session.expire_all()
    assert db_session.get(InsightBatch, batch_id).status == "sealed"
    assert aggregates(db_session, restaurant.id)["hourly"] == {}
    monkeypatch.undo()
    assert fold(runtime, batch_id).folded
    assert total(db_session, restaurant.id, "messages_in") == 2


def test_two_workers_racing_on_one_batch_fold_it_once(live_runtime, settings):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
        add_events(
            session,
            restaurant.id,
            [("message_in", at(H10, n), n, {"opened": True, "returning": False}) for n in range(30)]
            + [("menu_shown", at(H10, n), n) for n in range(30)],
        )
    batch_id = seal(live_runtime, restaurant.id)
    results = at_once([lambda: fold(live_runtime, batch_id)] * 4)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(r.folded for r in results) == [False, False, False, True]
    with live_runtime.transaction() as session:
        hour = aggregates(session, restaurant.id)["hourly"][H10]
    assert (hour["conversations"], hour["menu_shown"], hour["reached_menu"]) == (30, 30, 30)


def test_folds_of_different_batches_of_one_restaurant_at_once_lose_nothing(live_runtime, settings):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
    ids = []
    for n in range(4):
        with live_runtime.transaction() as session:
            add_events(session, restaurant.id, [("menu_shown", at(H10, n), 5)] * 10)
        ids.append(seal(live_runtime, restaurant.id))
    results = at_once([lambda b=b: fold(live_runtime, b) for b in ids])
    assert all(r.folded for r in results), results
    with live_runtime.transaction() as session:
        hour = aggregates(session, restaurant.id)["hourly"][H10]
    assert (hour["menu_shown"], hour["reached_menu"]) == (40, 1)


# -- through the real broker and a worker ----------------------------------------------


def sealed_batch(live_runtime, settings, events=5):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
        messages(session, restaurant.id, events, H10)
    [batch_id] = batches.seal_now(live_runtime.sessions, live_runtime.broker, H11, restaurant.id)
    return restaurant, batch_id


def job_of(live_runtime, batch_id):
    with live_runtime.read_transaction() as session:
        batch = session.get(InsightBatch, batch_id)
        return batch, session.get(Job, batch.job_id)


def folded_messages(live_runtime, restaurant_id):
    with live_runtime.read_transaction() as session:
        return total(session, restaurant_id, "messages_in")


def test_the_worker_analyzes_a_sealed_batch_as_a_tracked_job(live_runtime, settings, worker):
    restaurant, batch_id = sealed_batch(live_runtime, settings)
    assert wait_until(lambda: job_of(live_runtime, batch_id)[1].status == "succeeded")
    batch, job = job_of(live_runtime, batch_id)
    assert batch.status == "analyzed"
    assert (job.progress_done, job.progress_total) == (5, 5)
    assert job.result == {"batchId": batch_id, "events": 5, "folded": True}
    assert folded_messages(live_runtime, restaurant.id) == 5


def test_a_duplicate_delivery_changes_no_aggregate(live_runtime, settings, broker, worker):
    from bot import jobs

    restaurant, batch_id = sealed_batch(live_runtime, settings)
    with live_runtime.read_transaction() as session:
        job = session.get(Job, session.get(InsightBatch, batch_id).job_id)
    for _ in range(2):  # the broker hands the same message over again
        broker.enqueue(jobs.message_for(job))
    assert wait_until(lambda: job_of(live_runtime, batch_id)[1].attempts >= 3, timeout=30)
    assert job_of(live_runtime, batch_id)[1].status == "succeeded"
    assert folded_messages(live_runtime, restaurant.id) == 5


@pytest.mark.skipif(on_rabbitmq(), reason="dead letters are listed on Redis only")
def test_a_batch_whose_analysis_died_is_folded_once_when_replayed_from_the_dead_letters(
    live_runtime, live_client, settings, worker, monkeypatch
):
    from actors import analysis

    real_fold = analysis.fold_batch
    failing = {"on": True}

    def flaky(session, batch_id, **kwargs):
        result = real_fold(session, batch_id, **kwargs)
        if failing["on"]:  # dies after writing, before commit: all rolled back
            raise RuntimeError("worker lost its database connection")
        return result

    monkeypatch.setattr(analysis, "fold_batch", flaky)
    restaurant, batch_id = sealed_batch(live_runtime, settings)
    assert wait_until(lambda: job_of(live_runtime, batch_id)[1].status == "dead", timeout=30)
    batch, job = job_of(live_runtime, batch_id)
    assert (batch.status, job.attempts) == ("sealed", settings.queue_retry_attempts + 1)
    assert folded_messages(live_runtime, restaurant.id) == 0

    failing["on"] = False
    with live_runtime.transaction() as session:
        admin = admin_headers(session)
    answer = live_client.post(f"/api/admin/dead-letters/{job.id}/retry", headers=admin)
    assert answer.status_code == 202
    assert wait_until(lambda: job_of(live_runtime, batch_id)[1].status == "succeeded")
    assert folded_messages(live_runtime, restaurant.id) == 5

    # A manual analysis of the analyzed batch runs, and changes nothing.
    answer = live_client.post(f"/api/admin/batches/{batch_id}/analyze", headers=admin)
    assert answer.status_code == 202
    manual = answer.get_json()["jobId"]

    def manual_job():
        with live_runtime.read_transaction() as session:
            return session.get(Job, manual)

    assert wait_until(lambda: manual_job().status == "succeeded")
    assert manual_job().result == {"batchId": batch_id, "events": 5, "folded": False}
    assert folded_messages(live_runtime, restaurant.id) == 5


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_id": "12"}, {"batch_id": -1}, {"batch_id": True}, {"batch_id": 10**12}],
    ids=["text", "negative", "boolean", "unknown batch"],
)
def test_a_malformed_analyze_batch_message_fails_at_once_into_the_dead_letters(
    live_runtime, broker, worker, kwargs
):
    message = dramatiq.Message(
        queue_name="insights", actor_name="analyze_batch", args=(), kwargs=kwargs, options={}
    )
    broker.enqueue(message)

    def row():
        with live_runtime.read_transaction() as session:
            return session.get(Job, message.message_id)

    assert wait_until(lambda: (found := row()) is not None and found.status == "failed")
    assert row().attempts == 1
    assert "PermanentError" in row().error
    if not on_rabbitmq():
        from actors.dead_letters import list_letters

        _, letters = list_letters(live_runtime, offset=0, limit=100)
        assert message.message_id in [letter["id"] for letter in letters]


def test_the_scheduler_seals_and_the_worker_folds_what_the_webhook_wrote(
    live_runtime, live_client, settings, worker, fake_twilio
):
    from actors.scheduler import periodic_jobs
    from tests.insights.conftest import say

    [tick] = [t for t in periodic_jobs() if t.name == "seal_batches"]
    assert tick.every_s <= 60  # checked at least once a minute
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
    for text in ("hi", "what?", "what?"):
        say(live_client, settings, restaurant, text)
    sealed = batches.seal_due(
        live_runtime.sessions, live_runtime.broker, max_events=8, max_age_s=600, now=H11
    )
    assert len(sealed) == 1
    assert wait_until(lambda: job_of(live_runtime, sealed[0])[0].status == "analyzed")
    with live_runtime.read_transaction() as session:
        assert total(session, restaurant.id, "messages_in") == 3
        assert total(session, restaurant.id, "unrecognised_texts") == 2
        rows = session.scalars(select(InsightBatch)).all()
    assert [(b.status, b.events) for b in rows] == [("analyzed", 8)]
