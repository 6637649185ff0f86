"""The SQL index of dead letters follows Redis: worker failures, replays, deletes, expiry."""

import datetime as dt

import pytest

from actors import dead_letter_bulk
from actors.dead_letter_bulk import reconcile_index, settle_in_bulk
from actors.dead_letters import index_pending
from operations import dead_letter_index
from operations.dead_letter_index import DeadLetterFilter
from operations.error_classes import error_class, error_class_of_text
from tests.support.dashboard_data import put_dead_letter
from tests.support.processes import on_rabbitmq
from tests.support.waiting import wait_until
from tests.usage_api.conftest import NOW

redis_only = pytest.mark.skipif(on_rabbitmq(), reason="dead letters are indexed on Redis only")


def indexed(runtime, **filters):
    with runtime.read_transaction() as session:
        return dead_letter_index.page(session, DeadLetterFilter(**filters), limit=1000, offset=0)


@redis_only
def test_a_job_that_runs_out_of_retries_is_indexed_with_its_error_class(
    live_runtime, send_job, job_row, worker
):
    live_runtime.redis.set(live_runtime.keys("test", "fail", "ix"), "1")
    job_id = send_job("flaky_job", "test-flaky", restaurant_id="r9", name="ix")
    assert wait_until(lambda: job_row(job_id).status == "dead")
    index_pending(live_runtime)
    [row] = indexed(live_runtime)
    assert (row.message_id, row.actor, row.queue) == (job_id, "flaky_job", "test-flaky")
    assert (row.restaurant_id, row.error_class, row.attempts) == ("r9", "RuntimeError", 4)
    assert row.last_error == "RuntimeError: ix fails on purpose"
    assert [r.message_id for r in indexed(live_runtime, error_class="RuntimeError")] == [job_id]
    assert indexed(live_runtime, error_class="CatalogUnavailable") == []


def test_twilio_failures_are_classed_by_their_code_even_when_re_raised():
    from actors.errors import PermanentError
    from bot.delivery import SendRefused

    def deliver():
        try:
            raise SendRefused("outbound message 5: 63016 outside window", code="63016")
        except SendRefused as refused:
            raise PermanentError(str(refused)) from None

    with pytest.raises(PermanentError) as final:
        deliver()
    assert error_class(final.value) == "TwilioError:63016"
    assert error_class(ValueError("x")) == "ValueError"
    assert error_class_of_text("catalog.errors.CatalogUnavailable: down") == "CatalogUnavailable"
    assert error_class_of_text(None) == "Unknown"


@redis_only
def test_reconciling_adds_letters_the_index_missed_and_drops_those_redis_lost(
    live_runtime, settings
):
    known = put_dead_letter(
        live_runtime, actor="a", queue="q1", kwargs={}, error_class="E", last_error="E: x", at=NOW
    )
    missed = put_dead_letter(
        live_runtime,
        actor="a",
        queue="q1",
        kwargs={"restaurant_id": "r1"},
        error_class="E",
        last_error="E: x",
        at=NOW,
        indexed=False,
    )
    # Dramatiq's 7-day expiry removes a letter from Redis behind the index's back.
    ns = settings.redis_namespace
    redis_id = live_runtime.redis.zrange(f"{ns}:q1.XQ", 0, -1)
    gone_row = next(r for r in indexed(live_runtime) if r.message_id == known)
    live_runtime.redis.zrem(f"{ns}:q1.XQ", gone_row.redis_id)
    live_runtime.redis.hdel(f"{ns}:q1.XQ.msgs", gone_row.redis_id)
    assert len(redis_id) == 2
    assert reconcile_index(live_runtime) == (1, 1)
    [row] = indexed(live_runtime)
    assert (row.message_id, row.restaurant_id) == (missed, "r1")
    assert reconcile_index(live_runtime) == (0, 0)


@redis_only
def test_a_bulk_retry_runs_in_chunks_and_requeues_exactly_the_matched_letters(
    live_runtime, monkeypatch
):
    monkeypatch.setattr(dead_letter_bulk, "CHUNK", 3)
    at = NOW - dt.timedelta(hours=1)
    ids = [
        put_dead_letter(
            live_runtime,
            actor="welcome_bootstrap",
            queue="bootstrap",
            kwargs={"restaurant_id": "r1"},
            error_class="CatalogUnavailable" if n < 7 else "Other",
            last_error="x",
            at=at,
        )
        for n in range(9)
    ]
    match = DeadLetterFilter(error_class="CatalogUnavailable")
    with pytest.raises(dead_letter_bulk.StaleSelection):
        settle_in_bulk(live_runtime, "retry", match, expect=6, by="rbkey_test")
    outcome = settle_in_bulk(live_runtime, "retry", match, expect=7, by="rbkey_test")
    assert (outcome.matched, outcome.done) == (7, 7)
    ns = live_runtime.settings.redis_namespace
    assert live_runtime.redis.llen(f"{ns}:bootstrap") == 7
    assert live_runtime.redis.zcard(f"{ns}:bootstrap.XQ") == 2
    assert {r.message_id for r in indexed(live_runtime)} == set(ids[7:])
    deleted = settle_in_bulk(live_runtime, "delete", ids[7:], expect=2, by="rbkey_test")
    assert (deleted.matched, deleted.done) == (2, 2)
    assert indexed(live_runtime) == []


@redis_only
def test_one_bulk_action_runs_at_a_time(live_runtime):
    ns = live_runtime.settings.redis_namespace
    live_runtime.redis.set(f"{ns}:dead-letters:bulk-lock", "someone", px=5000)
    with pytest.raises(dead_letter_bulk.BulkBusy):
        settle_in_bulk(live_runtime, "retry", DeadLetterFilter(), expect=0, by="x")
