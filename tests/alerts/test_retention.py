"""The scheduler's cleanup removes alert events (with their delivery log) and firings older
than `EVENT_RETENTION_DAYS`; recent ones stay."""

import datetime as dt

from sqlalchemy import select

from actors import maintenance
from alerts import events
from alerts.channels import create_channel
from alerts.models import AlertEvent, AlertFiring, NotificationDelivery
from alerts.secrets import SecretBox
from store.timeutil import utcnow
from tests.support import factories


def test_cleanup_deletes_old_alert_events_with_their_deliveries_and_old_firings(
    db_session, runtime, settings
):
    restaurant = factories.restaurant(db_session, settings)
    create_channel(
        db_session,
        restaurant.id,
        {"type": "email", "target": "owner@example.com"},
        secrets=SecretBox(settings.secrets_key),
        allow_private=True,
        now=utcnow(),
    )
    now = utcnow()
    old = now - dt.timedelta(days=settings.event_retention_days, hours=1)
    recent = now - dt.timedelta(days=1)
    for at, event_id in ((old, "evt_old"), (recent, "evt_recent")):
        events.emit(db_session, "test", restaurant.id, {}, at, event_id=event_id)
        db_session.add(
            AlertFiring(
                restaurant_id=restaurant.id,
                metric="daily_messages",
                threshold=80,
                period=at.date().isoformat(),
                event_id=event_id,
                fired_at=at,
            )
        )
    db_session.flush()
    assert len(db_session.scalars(select(NotificationDelivery)).all()) == 2

    maintenance.clean_up(runtime)

    db_session.expire_all()
    assert db_session.scalars(select(AlertEvent.id)).all() == ["evt_recent"]
    assert db_session.scalars(select(NotificationDelivery.event_id)).all() == ["evt_recent"]
    assert db_session.scalars(select(AlertFiring.event_id)).all() == ["evt_recent"]
