"""Operator events to OPS_WEBHOOK_URL, once an hour per subject; import events through
`alerts.events.emit` (SPEC §13, §15)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json

import pytest

from actors import alert_upkeep
from actors.context import use_runtime
from alerts import events
from alerts.channels import create_channel
from alerts.forecast import last_day_of_month
from bot import jobs
from catalog.errors import CatalogError, ErrorKind
from store.models import Job
from store.timeutil import utcnow
from tests.support import factories
from tests.support.waiting import wait_until
from tests.usage_api.conftest import owner_headers

OPS_SECRET = "ops-secret"


@pytest.fixture
def settings(settings, receiver_server):
    return settings.replace(
        ops_webhook_url=f"{receiver_server.url}/ops", ops_webhook_secret=OPS_SECRET,
        catalog_breaker_cooldown_ms=60_000,
    )  # fmt: skip


@pytest.fixture
def upkeep(live_runtime):
    use_runtime(live_runtime)
    yield
    use_runtime(None)


def open_breaker(runtime, merchant):
    def failing():
        raise CatalogError("upstream down", kind=ErrorKind.UPSTREAM_FAILURE, status=503)

    for _ in range(runtime.settings.catalog_breaker_failures):
        with contextlib.suppress(CatalogError):
            runtime.catalog_breaker.call(merchant, failing)
    assert runtime.catalog_breaker.state(merchant) == "open"


def test_operator_events_are_signed_and_sent_once_an_hour_per_subject(
    live_runtime, receiver, worker, upkeep
):
    open_breaker(live_runtime, "m-down")
    with live_runtime.transaction() as session:
        old = utcnow() - dt.timedelta(hours=2)
        session.add(
            Job(id="old-job", actor="welcome_bootstrap", queue="bootstrap", status="queued",
                created_at=old, updated_at=old)
        )  # fmt: skip

    assert alert_upkeep.check_operator_events(live_runtime) == 2
    assert (
        alert_upkeep.check_operator_events(live_runtime) == 0
    )  # the same subjects within the hour

    assert wait_until(lambda: len(receiver.events("/ops", OPS_SECRET)) == 2, timeout=30)
    received = {e["type"]: e for e in receiver.events("/ops", OPS_SECRET)}
    assert received["breaker.opened"]["data"] == {"merchantId": "m-down"}
    assert received["breaker.opened"]["restaurantId"] is None
    backlog = received["queue.backlog"]["data"]
    assert backlog["queue"] == "bootstrap"
    assert backlog["oldestAgeSeconds"] >= 7200


def test_without_ops_webhook_url_nothing_is_checked(live_runtime, upkeep, settings):
    live_runtime.settings = settings.replace(ops_webhook_url=None)
    assert alert_upkeep.check_operator_events(live_runtime) == 0


def test_an_import_that_completes_notifies_its_true_count(
    live_runtime, live_client, settings, receiver, worker
):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings, restaurant_id="r-import")
        headers = owner_headers(session, restaurant.id)
    channel = live_client.post(
        "/api/alerts/channels",
        json={"type": "webhook", "target": f"{receiver.url}/hooks/import"},
        headers=headers,
    ).get_json()
    # What the import does in the transaction that finishes its job, then after commit:
    with live_runtime.transaction() as session:
        new_jobs = events.emit(
            session, events.IMPORT_COMPLETED, restaurant.id, {"orders": 1234, "jobId": "j-1"},
            utcnow(),
        )  # fmt: skip
    jobs.enqueue(live_runtime.broker, new_jobs)  # (else the relay does, within seconds)

    assert wait_until(lambda: receiver.events("/hooks/import", channel["secret"]), timeout=30)
    [event] = receiver.events("/hooks/import", channel["secret"])
    assert (event["type"], event["data"]) == ("import.completed", {"orders": 1234, "jobId": "j-1"})


def test_pace_is_checked_hourly_for_every_restaurant(live_runtime, settings, upkeep):
    from store.models import DailyUsage, MonthlyUsage
    from store.timeutil import local_date

    today = local_date(utcnow(), "UTC")
    if today == last_day_of_month(today):
        pytest.skip("on a month's last day no pace can reach the limit within the month")
    with live_runtime.transaction() as session:
        for rid, per_day in (("r-hot", 50), ("r-calm", 1)):
            factories.restaurant(session, settings, restaurant_id=rid, monthly_limit=1000)
            create_channel(
                session, rid, {"type": "email", "target": "o@example.com"},
                secrets=live_runtime.secret_box, allow_private=True, now=utcnow(),
            )  # fmt: skip
            for days_ago in range(1, 8):
                session.add(
                    DailyUsage(
                        restaurant_id=rid, date=today - dt.timedelta(days=days_ago),
                        message_count=0, conversation_count=per_day,
                    )
                )  # fmt: skip
            session.add(
                MonthlyUsage(
                    restaurant_id=rid, year=today.year, month=today.month,
                    conversation_count=999 if rid == "r-hot" else 1, message_count=0,
                )
            )  # fmt: skip
    assert alert_upkeep.check_pace(live_runtime) == 1
    assert alert_upkeep.check_pace(live_runtime) == 0  # once per month
    with live_runtime.read_transaction() as session:
        from sqlalchemy import select

        from alerts.models import AlertEvent

        [event] = session.scalars(select(AlertEvent)).all()
    assert (event.restaurant_id, event.type) == ("r-hot", "usage.pace_exceeds")
    assert event.data == {
        "projectedDate": (today + dt.timedelta(days=1)).isoformat(),
        "limit": 1000,
    }
    assert json.dumps(event.data)
