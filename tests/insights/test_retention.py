"""What the scheduler's cleanup removes: old events with their batches, unrecognised texts
with message bodies (aggregates included); other aggregates stay."""

import datetime as dt

from sqlalchemy import func, select

from actors import maintenance
from insights import batches, folding
from insights.models import ConversationEvent, ConversationFunnel, HourlyText, InsightBatch
from store.timeutil import utcnow
from tests.insights.conftest import add_events, total


def count(session, model):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def analyzed(runtime, session, restaurant_id, specs, now):
    add_events(session, restaurant_id, specs)
    for batch_id in batches.seal_now(runtime.sessions, runtime.broker, now, restaurant_id):
        with runtime.transaction() as s:
            folding.fold_batch(s, batch_id, now=now)


def test_cleanup_expires_events_and_texts_and_keeps_the_other_aggregates(
    db_session, runtime, settings, restaurant
):
    now = utcnow()
    old = now - dt.timedelta(days=settings.event_retention_days, hours=2)
    recent = now - dt.timedelta(days=1)
    analyzed(
        runtime,
        db_session,
        restaurant.id,
        [
            ("message_in", old, 1, {"opened": True, "returning": False}),
            ("menu_shown", old, 1),
            ("unrecognised_text", old, 1, {"text": "old question"}),
        ],
        old + dt.timedelta(minutes=5),
    )
    analyzed(
        runtime,
        db_session,
        restaurant.id,
        [("menu_shown", recent, 2), ("unrecognised_text", recent, 2, {"text": "new question"})],
        recent + dt.timedelta(minutes=5),
    )
    db_session.execute(
        ConversationFunnel.__table__.update()
        .where(ConversationFunnel.conversation_id == 1)
        .values(updated_at=old)
    )
    assert (count(db_session, ConversationEvent), count(db_session, HourlyText)) == (5, 2)

    maintenance.clean_up(runtime)

    assert [e.kind for e in db_session.scalars(select(ConversationEvent))] == [
        "menu_shown",
        "unrecognised_text",
    ]
    assert [b.events for b in db_session.scalars(select(InsightBatch))] == [2]
    assert [t.text for t in db_session.scalars(select(HourlyText))] == ["new question"]
    assert [f.conversation_id for f in db_session.scalars(select(ConversationFunnel))] == [2]
    # Aggregates other than texts are kept forever.
    assert total(db_session, restaurant.id, "menu_shown") == 2
    assert total(db_session, restaurant.id, "conversations") == 1
    assert total(db_session, restaurant.id, "unrecognised_texts") == 2


def test_texts_expire_with_message_bodies_before_the_events_do(
    db_session, runtime, settings, restaurant
):
    now = utcnow()
    short = settings.replace(message_body_retention_days=10, event_retention_days=90)
    at = now - dt.timedelta(days=11)
    analyzed(
        runtime,
        db_session,
        restaurant.id,
        [("help_shown", at, 1), ("unrecognised_text", at, 1, {"text": "where are you"})],
        at,
    )
    shorter = runtime.__class__(
        short, engine=runtime.engine, session_factory=db_session.info["factory"]
    )
    try:
        maintenance.clean_up(shorter)
    finally:
        shorter.close_clients()
    assert [e.kind for e in db_session.scalars(select(ConversationEvent))] == ["help_shown"]
    assert count(db_session, HourlyText) == 0
