"""`insights show`, `batches seal` and `demo history` (the demo's insights for `make run`)."""

import datetime as dt

from sqlalchemy import func, select

from insights.models import ConversationEvent, InsightBatch
from operations.models import AuditEntry
from store.models import Message
from store.timeutil import local_date, utcnow
from tests.insights.conftest import messages, say


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def test_batches_seal_seals_what_waits_and_is_audited_as_the_cli(
    runner, db_session, settings, restaurant
):
    messages(db_session, restaurant.id, 3, utcnow())
    done = invoke(runner, "batches", "seal", "--restaurant", restaurant.id)
    assert done.exit_code == 0, done.output
    [batch] = db_session.scalars(select(InsightBatch)).all()
    assert done.stdout.strip() == f"sealed 1 batch(es), analysis enqueued: {batch.id}"
    again = invoke(runner, "batches", "seal")
    assert again.stdout.strip() == "nothing waiting: no batch sealed"
    unknown = invoke(runner, "batches", "seal", "--restaurant", "nobody")
    assert unknown.exit_code == 1
    assert "no restaurant with id 'nobody'" in unknown.output
    audited = db_session.execute(
        select(
            AuditEntry.key_prefix, AuditEntry.action, AuditEntry.filter, AuditEntry.ids
        ).order_by(AuditEntry.id)
    ).all()
    assert audited == [
        ("cli", "batches.seal", {"restaurantId": restaurant.id}, [str(batch.id)]),
        ("cli", "batches.seal", {}, []),
    ]


def test_insights_show_prints_a_summary_for_a_terminal(
    runner, client, db_session, runtime, settings, restaurant, fake_twilio
):
    say(client, settings, restaurant, "hi")
    say(client, settings, restaurant, "do you deliver?")
    say(client, settings, restaurant, "do you deliver?")
    invoke(runner, "batches", "seal")
    from insights.folding import fold_batch

    for batch in db_session.scalars(select(InsightBatch)).all():
        with runtime.transaction() as session:
            fold_batch(session, batch.id, now=utcnow())
    shown = invoke(runner, "insights", "show", "--restaurant", restaurant.id)
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert f"Insights of {restaurant.id}: " in text
    assert "Conversations        1   new 1, returning 0" in text
    assert "Messages in          3" in text
    assert "  welcome       1  " in text
    assert "      2  do you deliver?" in text
    assert '[info] Customers often type "do you deliver?"' in text


def test_insights_show_refuses_bad_input_in_one_line(runner, restaurant):
    for args, message in [
        (("--restaurant", "nobody"), "no restaurant with id 'nobody'"),
        (("--restaurant", restaurant.id, "--from", "2025-02-30"), "not a calendar date"),
        (("--restaurant", restaurant.id, "--from", "2025-10-02", "--to", "2025-10-01"), "after"),
    ]:
        done = invoke(runner, "insights", "show", *args)
        assert done.exit_code == 1
        assert message in done.output
        assert len(done.output.strip().splitlines()) == 1


def test_demo_history_writes_past_days_through_the_webhook_path_once(
    runner, db_session, fake_catalog
):
    assert invoke(runner, "demo", "seed").exit_code == 0
    first = invoke(runner, "demo", "history", "--days", "2")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("Demo history: ")
    db_session.expire_all()
    stored = db_session.scalar(select(func.count()).select_from(Message))
    events = db_session.scalars(select(ConversationEvent)).all()
    assert {e.kind for e in events} >= {"message_in", "welcome_sent", "menu_shown"}
    assert {e.batch_id for e in events} != {None}
    today = local_date(utcnow(), "Asia/Riyadh")
    assert all(local_date(e.occurred_at, "Asia/Riyadh") < today for e in events)
    assert all(e.occurred_at >= utcnow() - dt.timedelta(days=3) for e in events)
    [batch] = db_session.scalars(select(InsightBatch)).all()
    assert batch.status == "analyzed"

    again = invoke(runner, "demo", "history", "--days", "2")
    assert again.stdout.startswith("Demo history: 0 messages over 0 new day(s) (2 already there)")
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Message)) == stored

    shown = invoke(runner, "insights", "show", "--restaurant", "demo")
    assert "Conversations        0" not in shown.stdout
