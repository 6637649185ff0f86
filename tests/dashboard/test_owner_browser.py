"""An owner's pages in a real browser (Debian's Chromium, Playwright) against a real server:
signing in with the PAT and restaurant id, the Usage page at phone and desktop widths,
with JavaScript off, and the README's picture of it on demo data.

The operators' side (and the Usage page as an operator's read-only view) is in
test_browser.py.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import select

from store import counters, credentials
from store.counters import UsagePeriod
from store.models import DailyUsage
from store.timeutil import local_date, utcnow
from tests.dashboard.browser import DESKTOP, PHONE, new_tab
from tests.support import dashboard_data

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEMO_ZONE = "Asia/Riyadh"


@pytest.fixture
def owner_token(live_runtime) -> str:
    """The demo restaurants with this month's usage and a recent week of conversations at
    the demo restaurant (so the page has a pace to tell); its owner's PAT (committed)."""
    now = utcnow()
    dashboard_data.seed_restaurants(live_runtime, now)
    recent_week(live_runtime, now)
    with live_runtime.transaction() as session:
        return credentials.create_pat(session, restaurant_id="demo", expires_in_days=None).secret


def recent_week(runtime, now: dt.datetime) -> None:
    """Count 8–16 conversations a day at the demo restaurant in the 7 days before today,
    as the webhook counts them (the day's and the month's counters)."""
    rng = random.Random(3)
    with runtime.transaction() as session:
        for back in range(7, 0, -1):  # in time order, as they happen
            at = now - dt.timedelta(days=back)
            period = UsagePeriod.of(at, DEMO_ZONE)
            for _ in range(rng.randint(8, 16)):
                opens = {"opens_conversation": True}
                counters.count_daily_message(session, "demo", period, 10**9, **opens)
                counters.record_month(session, "demo", period, at, messages=1, **opens)


def messages_today(runtime) -> int:
    with runtime.read_transaction() as session:
        return session.scalar(
            select(DailyUsage.message_count).where(
                DailyUsage.restaurant_id == "demo",
                DailyUsage.date == local_date(utcnow(), DEMO_ZONE),
            )
        )


def test_an_owner_signs_in_sees_their_usage_and_nothing_else_then_signs_out(
    browser, site, owner_token, live_runtime
):
    tab = new_tab(browser, site)
    tab.sign_in_as_owner(owner_token)
    assert "مطعم الديوان" in tab.page.locator("h1").inner_text()
    assert tab.page.locator("h1 bdi").get_attribute("dir") == "auto"
    assert tab.page.locator(".gauge").count() == 2
    today = tab.page.locator(".gauge .gauge-numbers strong").first.inner_text()
    assert today == f"{messages_today(live_runtime):,}"
    assert "stay within the monthly limit" in tab.page.inner_text("[data-pace=month]")
    assert owner_token not in tab.page.content()
    # Another restaurant by editing the address: a 404 page, and nothing of it shown.
    answer = tab.open("/dashboard/r/burger-hub/usage")
    assert answer.status == 404
    assert tab.page.locator("h1").inner_text() != "Burger Hub"
    assert "Burger Hub" not in tab.page.content()
    assert tab.open("/dashboard/r/no-such-one/usage").status == 404
    assert tab.open("/dashboard/admin/overview").status == 403
    tab.open("/dashboard/r/demo/usage")
    tab.page.click("text=Sign out")
    tab.page.wait_for_url("**/dashboard/login")
    tab.open("/dashboard/r/demo/usage")
    assert tab.page.url.endswith("/dashboard/login")
    problems = [e for e in tab.console_errors if "404" not in e and "403" not in e]
    assert problems == []


@pytest.mark.parametrize(("width", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_usage_page_has_no_console_errors_or_csp_violations(
    browser, site, owner_token, width, viewport
):
    tab = new_tab(browser, site, viewport=viewport)
    tab.sign_in_as_owner(owner_token)
    tab.screenshot(f"owner-usage-{width}")
    assert tab.csp_violations() == []
    assert tab.console_errors == []
    overflow = tab.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    # The pace and the chart are on the page at this width, not cut away.
    assert tab.page.locator("[data-pace]").count() == 2
    assert tab.page.locator("[data-pace=month]").is_visible()
    assert tab.page.locator("svg.chart").is_visible()


def test_the_usage_page_reads_with_javascript_off(browser, site, owner_token, live_runtime):
    tab = new_tab(browser, site, javascript=False)
    tab.sign_in_as_owner(owner_token)
    assert tab.page.locator("h1").count() == 1
    assert tab.page.locator(".gauge").count() == 2
    assert tab.page.locator("[data-pace=day]").inner_text().strip() != ""
    assert "stay within the monthly limit" in tab.page.inner_text("[data-pace=month]")
    assert tab.page.locator("table tbody tr").count() == 6
    tab.page.click("text=Sign out")
    tab.page.wait_for_url("**/dashboard/login")


def test_the_owner_usage_page_on_demo_data(browser, site, owner_token):
    """The README's picture of the owner's Usage page, at phone width."""
    tab = new_tab(browser, site, viewport=PHONE)
    tab.sign_in_as_owner(owner_token)
    assert tab.page.locator("svg.chart").count() == 1
    tab.screenshot("owner-usage-demo")
