"""Threshold and pace rules fire from the webhook's own counter updates (SPEC §15)."""

import datetime as dt

import pytest
from sqlalchemy import select

from alerts.channels import create_channel
from alerts.models import AlertEvent, AlertFiring, NotificationDelivery
from alerts.rules import DEFAULT_RULES, Rule, save_rules
from store.models import DailyUsage, Job
from store.timeutil import local_date, utcnow
from tests.support import factories
from tests.support.twilio import inbound_form, post_signed

ALL_OFF = tuple(Rule(rule.metric, rule.threshold, enabled=False) for rule in DEFAULT_RULES)


def send(client, settings, restaurant, sender, body="help"):
    form = inbound_form(to=restaurant.whatsapp_number, sender=sender, body=body)
    response = post_signed(client, settings.twilio_auth_token, form)
    assert response.status_code == 200
    return form


def alert_events(db_session, kind="usage.threshold_reached"):
    query = select(AlertEvent).where(AlertEvent.type == kind).order_by(AlertEvent.occurred_at)
    return db_session.scalars(query).all()


def set_rules(db_session, runtime, restaurant, rules):
    save_rules(db_session, restaurant.id, rules, utcnow())
    db_session.flush()
    runtime.tenants.forget()


def test_a_small_daily_limit_fires_once_at_80_and_once_at_100_percent(
    client, settings, db_session, fake_twilio
):
    restaurant = factories.restaurant(db_session, settings, daily_limit=5)
    for _ in range(7):  # the 6th and 7th are throttled
        send(client, settings, restaurant, "+966511111111")

    events = alert_events(db_session)
    today = local_date(utcnow(), "UTC").isoformat()
    assert [e.data for e in events] == [
        {"metric": "daily_messages", "threshold": 80, "used": 4, "limit": 5, "period": today},
        {"metric": "daily_messages", "threshold": 100, "used": 5, "limit": 5, "period": today},
    ]
    assert {e.restaurant_id for e in events} == {restaurant.id}


def test_monthly_conversations_fire_on_the_conversation_that_reaches_the_threshold(
    client, settings, db_session, fake_twilio
):
    restaurant = factories.restaurant(db_session, settings, monthly_limit=5)
    for n in range(6):  # the 6th would open a conversation over the limit: throttled
        send(client, settings, restaurant, f"+96651111110{n}", body="hi")
        send(client, settings, restaurant, f"+96651111110{n}", body="menu")

    data = [e.data for e in alert_events(db_session)]
    month = utcnow().strftime("%Y-%m")
    assert data == [
        {
            "metric": "monthly_conversations",
            "threshold": 80,
            "used": 4,
            "limit": 5,
            "period": month,
        },
        {
            "metric": "monthly_conversations",
            "threshold": 100,
            "used": 5,
            "limit": 5,
            "period": month,
        },
    ]


def test_a_rule_enabled_while_usage_is_above_it_fires_on_the_next_accepted_message(
    client, settings, db_session, runtime, fake_twilio
):
    restaurant = factories.restaurant(db_session, settings, daily_limit=10)
    set_rules(db_session, runtime, restaurant, ALL_OFF)
    for _ in range(8):
        send(client, settings, restaurant, "+966511111111")
    assert alert_events(db_session) == []

    set_rules(db_session, runtime, restaurant, DEFAULT_RULES)
    send(client, settings, restaurant, "+966511111111")

    [event] = alert_events(db_session)
    assert (event.data["threshold"], event.data["used"]) == (80, 9)


def test_a_throttled_message_fires_nothing(client, settings, db_session, runtime, fake_twilio):
    restaurant = factories.restaurant(db_session, settings, daily_limit=3)
    set_rules(db_session, runtime, restaurant, ALL_OFF)
    for _ in range(3):
        send(client, settings, restaurant, "+966511111111")
    set_rules(db_session, runtime, restaurant, DEFAULT_RULES)

    send(client, settings, restaurant, "+966511111111")  # over the limit: throttled

    assert alert_events(db_session) == []


def test_a_disabled_rule_never_fires(client, settings, db_session, runtime, fake_twilio):
    restaurant = factories.restaurant(db_session, settings, daily_limit=2)
    set_rules(db_session, runtime, restaurant, (Rule("daily_messages", 100, enabled=False),))
    for _ in range(2):
        send(client, settings, restaurant, "+966511111111")
    assert alert_events(db_session) == []


def test_below_every_threshold_a_message_touches_no_alert_table(
    client, settings, db_session, fake_twilio, statements
):
    restaurant = factories.restaurant(db_session, settings, daily_limit=100)
    send(client, settings, restaurant, "+966511111111", body="hi")  # opens the conversation
    statements.clear()

    send(client, settings, restaurant, "+966511111111")

    assert statements.touching("alert_firings") == []
    assert statements.touching("alert_events") == []
    assert statements.touching("alert_settings") == []  # the rules came with the tenant


def test_above_a_threshold_the_process_asks_the_database_once_then_remembers(
    client, settings, db_session, fake_twilio, statements
):
    restaurant = factories.restaurant(db_session, settings, daily_limit=20)
    for _ in range(16):
        send(client, settings, restaurant, "+966511111111")  # 80 % fires on the 16th
    statements.clear()
    for _ in range(3):
        send(client, settings, restaurant, "+966511111111")
    # The 17th learns that 80 % fired (a conflict); the 18th and 19th ask nothing.
    assert len(statements.touching("alert_firings")) == 1


def test_a_firing_writes_its_event_and_one_delivery_job_per_channel(
    client, settings, db_session, runtime, fake_twilio
):
    restaurant = factories.restaurant(db_session, settings, daily_limit=1)
    for target in ("http://127.0.0.1:9/hook", "owner@example.com"):
        kind = "webhook" if target.startswith("http") else "email"
        create_channel(
            db_session,
            restaurant.id,
            {"type": kind, "target": target},
            secrets=runtime.secret_box,
            allow_private=True,
            now=utcnow(),
        )
    send(client, settings, restaurant, "+966511111111")

    events = alert_events(db_session)
    assert [e.data["threshold"] for e in events] == [80, 100]
    deliveries = db_session.scalars(select(NotificationDelivery)).all()
    assert len(deliveries) == 4
    assert {d.status for d in deliveries} == {"pending"}
    jobs = db_session.scalars(select(Job).where(Job.actor == "deliver_notification")).all()
    assert {j.id for j in jobs} == {d.id for d in deliveries}
    assert {j.payload["kwargs"]["delivery_id"] for j in jobs} == {d.id for d in deliveries}


@pytest.mark.parametrize(
    ("last_week", "expected_pace"),
    [(70, True), (7, False)],
    ids=["running-hot", "calm"],
)
def test_pace_is_checked_when_a_conversation_opens(
    client, settings, db_session, fake_twilio, last_week, expected_pace
):
    restaurant = factories.restaurant(db_session, settings, monthly_limit=200)
    today = local_date(utcnow(), "UTC")
    for days_ago in range(1, 8):
        db_session.add(
            DailyUsage(
                restaurant_id=restaurant.id,
                date=today - dt.timedelta(days=days_ago),
                message_count=0,
                conversation_count=last_week // 7,
            )
        )
    db_session.flush()
    for n in range(3):
        send(client, settings, restaurant, f"+96651111120{n}", body="hi")

    events = alert_events(db_session, "usage.pace_exceeds")
    days_left = (dt.date(today.year + today.month // 12, today.month % 12 + 1, 1) - today).days - 1
    hot = 1 + 10 * days_left >= 200
    if expected_pace and hot:
        [event] = events
        assert event.data["limit"] == 200
        assert event.data["projectedDate"] > today.isoformat()
        firings = db_session.scalars(select(AlertFiring).where(AlertFiring.metric == "pace")).all()
        assert len(firings) == 1
    else:
        assert events == []


def test_rules_put_through_the_api_apply_to_the_next_message_of_this_process(
    client, settings, db_session, fake_twilio
):
    from tests.usage_api.conftest import owner_headers

    restaurant = factories.restaurant(db_session, settings, daily_limit=2)
    headers = owner_headers(db_session, restaurant.id)
    off = [{"metric": "daily_messages", "threshold": 50, "enabled": False}]
    assert client.put("/api/alerts/rules", json={"rules": off}, headers=headers).status_code == 200
    send(client, settings, restaurant, "+966511111111")
    assert alert_events(db_session) == []

    on = [{"metric": "daily_messages", "threshold": 50, "enabled": True}]
    assert client.put("/api/alerts/rules", json={"rules": on}, headers=headers).status_code == 200
    send(client, settings, restaurant, "+966511111111")

    [event] = alert_events(db_session)
    assert (event.data["threshold"], event.data["used"]) == (50, 2)
