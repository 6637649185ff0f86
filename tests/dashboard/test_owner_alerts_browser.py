"""The owner's Alerts page in a real browser (Debian's Chromium, Playwright) against the app
served on 127.0.0.1 with real Redis and the run's database; photographed at 360 px and
1,440 px into `SCREENSHOT_DIR`."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from alerts.models import AlertChannel, AlertEvent, AlertFiring, NotificationDelivery
from alerts.rules import rules_of
from store import credentials
from store.timeutil import local_date, utcnow
from tests.dashboard.browser import DESKTOP, PHONE, new_tab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = "/dashboard/r/demo/alerts"


@pytest.fixture
def alert_history(live_runtime, owner_token):
    """Two channels, a rule that fired today and a week of deliveries in every status."""
    now = utcnow()
    today = local_date(now, "Asia/Riyadh")
    with live_runtime.transaction() as session:
        channels = [
            AlertChannel(
                id="ch_" + uuid.uuid4().hex[:24],
                restaurant_id="demo",
                type=kind,
                target=target,
                created_at=now - dt.timedelta(days=20 - n),
            )
            for n, (kind, target) in enumerate(
                [("email", "owner@aldiwan.example"), ("whatsapp", "+966501234567")]
            )
        ]
        session.add_all(channels)
        session.add(
            AlertFiring(
                restaurant_id="demo",
                metric="daily_messages",
                threshold=80,
                period=today.isoformat(),
                event_id="evt_fired",
                fired_at=now - dt.timedelta(hours=2),
            )
        )
        history = [
            ("usage.threshold_reached", 0, "delivered", 1, None),
            ("usage.threshold_reached", 1, "delivered", 1, None),
            ("test", 1, "failed", 1, "Twilio refused the number (21211): not a valid phone"),
            ("usage.pace_exceeds", 0, "dead", 4, "SMTP 451 4.3.0 mailbox temporarily unavailable"),
            ("import.completed", 0, "pending", 1, "SMTP 421 service not available"),
        ]
        for n, (kind, channel, status, attempts, error) in enumerate(history):
            at = now - dt.timedelta(hours=2 + 30 * (len(history) - n))
            event_id = "evt_" + uuid.uuid4().hex
            session.add(
                AlertEvent(id=event_id, restaurant_id="demo", type=kind, occurred_at=at, data={})
            )
            session.flush()
            session.add(
                NotificationDelivery(
                    id=str(uuid.uuid4()),
                    event_id=event_id,
                    restaurant_id="demo",
                    channel_id=channels[channel].id,
                    channel_type=channels[channel].type,
                    status=status,
                    attempts=attempts,
                    last_error=error,
                    created_at=at,
                    updated_at=at,
                    delivered_at=at + dt.timedelta(seconds=2) if status == "delivered" else None,
                )
            )


def test_an_owner_changes_a_rule_and_sees_a_new_webhooks_secret_once(
    browser, site, owner_token, live_runtime
):
    tab = new_tab(browser, site)
    tab.sign_in_as_owner(owner_token)
    tab.page.click("nav >> text=Alerts")
    tab.page.wait_for_url(f"**{PAGE}")
    tab.page.uncheck("#rule-1-enabled")
    tab.page.fill("#rule-0-threshold", "90")
    tab.page.click("button:text('Save alert rules')")
    tab.page.wait_for_url(f"**{PAGE}?done=rules")
    assert "Alert rules saved" in tab.page.inner_text("[role=status]")
    assert tab.page.input_value("#rule-0-threshold") == "90"
    assert not tab.page.is_checked("#rule-1-enabled")
    with live_runtime.read_transaction() as session:
        stored = rules_of(session, "demo")
    assert (stored[0].threshold, stored[1].enabled) == (90, False)

    tab.page.fill("#target-webhook", "https://hooks.example.com/restaurant-bot")
    tab.page.click("button:text('Add webhook')")
    tab.page.wait_for_url(f"**{PAGE}?created=ch_*")
    secret = tab.page.inner_text("#new-secret")
    assert secret.startswith("whsec_")
    assert "it will not be shown again" in tab.page.inner_text("#secret-title")
    assert secret not in tab.page.url
    assert tab.page.locator("#new-secret + button:text('Copy')").count() == 1
    assert tab.page.title() == "Alerts · Al Diwan Grill / مطعم الديوان · restaurant-bot"
    tab.page.reload()
    assert tab.page.locator("#new-secret").count() == 0
    assert secret not in tab.page.content()
    assert tab.csp_violations() == []
    assert tab.console_errors == []


@pytest.mark.parametrize(("width", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_alerts_page_fits_the_screen_without_errors(
    browser, site, owner_token, alert_history, width, viewport
):
    tab = new_tab(browser, site, viewport=viewport)
    tab.sign_in_as_owner(owner_token)
    assert tab.open(PAGE).status == 200
    assert tab.page.locator("tr[data-delivery]").count() == 5
    tab.screenshot(f"owner-alerts-{width}")
    tab.page.fill("#target-email", "owner-at-aldiwan")
    with tab.page.expect_response(lambda r: r.request.method == "POST") as answer:
        tab.page.click("button:text('Add e-mail')")
    assert answer.value.status == 400
    assert "not an e-mail address" in tab.page.inner_text("#error-email")
    assert tab.page.input_value("#target-email") == "owner-at-aldiwan"
    assert tab.page.evaluate("document.activeElement.id") == "target-email"  # in view
    tab.screenshot(f"owner-alerts-refused-{width}")
    tab.page.fill("#target-webhook", "https://hooks.example.com/restaurant-bot")
    tab.page.click("button:text('Add webhook')")
    tab.page.wait_for_url(f"**{PAGE}?created=ch_*")
    tab.screenshot(f"owner-alerts-secret-{width}")
    overflow = tab.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    assert tab.csp_violations() == []
    # The refused form's own 400 is reported as a failed load; nothing else may be.
    assert [e for e in tab.console_errors if "status of 400" not in e] == []


def test_the_alerts_page_reads_and_works_with_javascript_off(
    browser, site, owner_token, alert_history, live_runtime
):
    tab = new_tab(browser, site, viewport=PHONE, javascript=False)
    tab.sign_in_as_owner(owner_token)
    tab.open(PAGE)
    assert tab.page.locator("h1").count() == 1
    tab.page.uncheck("#rule-4-enabled")
    tab.page.click("button:text('Save alert rules')")
    assert "Alert rules saved" in tab.page.inner_text("[role=status]")
    tab.page.click("button:text('Send a test to every channel (2)')")
    assert "queued for 2 channels" in tab.page.inner_text("[role=status]")
    assert tab.page.locator("tr[data-delivery]").count() == 7
    with live_runtime.read_transaction() as session:
        assert rules_of(session, "demo")[4].enabled is False


def test_an_operator_sees_the_alerts_read_only(browser, site, alert_history, live_runtime):
    with live_runtime.transaction() as session:
        key = credentials.create_api_key(session, name="ops").secret
    tab = new_tab(browser, site, viewport=PHONE)
    tab.sign_in_with_key(key)
    assert tab.open(PAGE).status == 200
    assert "read-only" in tab.page.inner_text(".flash")
    assert tab.page.locator("main form").count() == 0
    assert tab.page.locator("[data-rule] .status").count() == 5
    tab.screenshot("owner-alerts-operator-phone")
    assert tab.console_errors == []
