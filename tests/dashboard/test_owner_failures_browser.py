"""The owner's "Messages that failed" page in a real browser (Debian's Chromium, Playwright),
against a real server, on failures made by the real send path: customers write to the
demo restaurant, FakeTwilio refuses welcomes with error codes, status callbacks report
failed deliveries; failures of earlier days are written as the outbox leaves them.

Photographed at phone (360 px) and desktop (1,440 px) widths into `SCREENSHOT_DIR`.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from store.models import Customer, Message, Restaurant
from store.timeutil import utcnow
from tests.dashboard.browser import DESKTOP, PHONE, new_tab
from tests.support.twilio import STATUS_URL, inbound_form, post_signed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = "/dashboard/r/demo/failures"
_customers = itertools.count(1)


@pytest.fixture
def failures(owner_token, live_client, live_runtime, settings, fake_twilio):
    """A week of failures at the demo restaurant, most through the real send path."""
    with live_runtime.read_transaction() as session:
        number = session.scalar(select(Restaurant.whatsapp_number).where(Restaurant.id == "demo"))

    def first_message() -> None:
        sender = f"+96655{next(_customers):07d}"
        form = inbound_form(to=number, sender=sender)
        assert post_signed(live_client, settings.twilio_auth_token, form).status_code == 200

    for code, times in [(63016, 4), (21610, 2), (63024, 1), (21999, 1)]:
        fake_twilio.fail(status=400, code=code, times=times)
        for _ in range(times):
            first_message()
    for code in ["30008", "30008", "63018"]:
        first_message()  # delivered to Twilio, then reported as failed
        with live_runtime.read_transaction() as session:
            sid = session.scalars(
                select(Message.sid).where(Message.status == "sent").order_by(Message.id.desc())
            ).first()
        form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": code}
        post_signed(live_client, settings.twilio_auth_token, form, url=STATUS_URL)
    now = utcnow()
    with live_runtime.transaction() as session:
        for days, code in [(2, "63016"), (3, "63016"), (5, "21610"), (12, "63016"), (20, "30007")]:
            _failed_row(session, now - dt.timedelta(days=days, hours=days), code)
    return owner_token


def _failed_row(session, at: dt.datetime, code: str) -> None:
    customer = Customer(
        restaurant_id="demo", address=f"+96655{next(_customers):07d}", created_at=at
    )
    session.add(customer)
    session.flush()
    session.add(
        Message(
            restaurant_id="demo",
            customer_id=customer.id,
            direction="outbound",
            status="failed",
            error_code=code,
            created_at=at,
            updated_at=at,
        )
    )


def signed_in_tab(browser, site, token, **options):
    tab = new_tab(browser, site, **options)
    tab.sign_in_as_owner(token)
    return tab


@pytest.mark.parametrize(("width", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_an_owner_reads_the_failures_without_console_errors_or_csp_violations(
    browser, site, failures, width, viewport
):
    tab = signed_in_tab(browser, site, failures, viewport=viewport)
    tab.page.click("text=Messages that failed")
    tab.page.wait_for_url(f"**{PAGE}")
    assert tab.page.locator("h1").inner_text() == "Messages that failed"
    assert (
        "14 messages failed in the last 7 days" in tab.page.locator("#summary-title").inner_text()
    )
    assert tab.page.locator(".failure-group").count() == 6
    first = tab.page.locator(".failure-group").first
    assert "Outside WhatsApp's 24-hour window" in first.locator("h2").inner_text()
    assert "Asia/Riyadh" in first.inner_text()
    tab.screenshot(f"owner-failures-{width}")
    first.locator("summary").click()
    assert first.locator(".failure-recent li").count() == 3
    tab.screenshot(f"owner-failures-open-{width}")
    first.screenshot(
        path=str(
            tab.screenshot(f"owner-failures-open-{width}").parent
            / f"owner-failures-group-{width}.png"
        )
    )
    tab.page.click("text=Last 30 days")
    tab.page.wait_for_url("**days=30")
    assert "16 messages failed in the last 30 days" in tab.page.inner_text("#summary-title")
    tab.screenshot(f"owner-failures-30-days-{width}")
    overflow = tab.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    assert tab.csp_violations() == []
    assert tab.console_errors == []


def test_the_page_reads_with_javascript_off(browser, site, failures):
    tab = signed_in_tab(browser, site, failures, viewport=PHONE, javascript=False)
    assert tab.open(PAGE).status == 200
    assert tab.page.locator("h1").count() == 1
    assert tab.page.locator(".failure-group").count() == 6
    unknown = tab.page.locator("#code-21999")
    assert "Look it up in Twilio's error dictionary" in unknown.inner_text()
    unknown.locator("summary").click()  # <details> opens without JavaScript
    assert unknown.locator(".failure-recent li").count() == 1
    tab.page.click("text=Last 30 days")
    assert tab.page.locator(".failure-group").count() == 7
    assert tab.open("/dashboard/r/burger-hub/failures").status == 404


def test_an_empty_week_says_so(browser, site, owner_token):
    tab = signed_in_tab(browser, site, owner_token, viewport=PHONE)
    tab.open(PAGE)
    assert tab.page.locator(".empty-title").inner_text() == "No message failed in the last 7 days"
    tab.screenshot("owner-failures-empty-phone")
    assert tab.console_errors == []
