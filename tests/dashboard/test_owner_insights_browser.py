"""The owner's Insights page in a real browser (Debian's Chromium, Playwright) on demo-like
data: two weeks of conversations written through the real inbound code (the demo history
`make run` writes) and, for the orders, the demo catalog's order history imported by the
real job on an in-process worker.

The page is photographed at 360 px and 1,440 px into `SCREENSHOT_DIR`.
"""

from __future__ import annotations

import pytest

from bot.demo_history import write_history
from imports.starting import launch_import
from store import credentials
from store.models import Job
from store.timeutil import utcnow
from tests.dashboard.browser import DESKTOP, PHONE, new_tab
from tests.insights.conftest import warm
from tests.support import factories
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = "/dashboard/r/demo/insights"


@pytest.fixture
def demo(live_runtime, settings, fake_catalog):
    """The demo restaurant with two weeks of history; the owner's token."""
    with live_runtime.transaction() as session:
        factories.restaurant(
            session,
            settings,
            restaurant_id="demo",
            name="Al Diwan Grill / مطعم الديوان",
            merchant_id="demo-merchant",
            timezone="Asia/Riyadh",
        )
        factories.restaurant(session, settings, restaurant_id="burger-hub", name="Burger Hub")
        token = credentials.create_pat(session, restaurant_id="demo", expires_in_days=None)
    tenant = live_runtime.tenants.by_id("demo")
    assert tenant is not None
    write_history(live_runtime, tenant, days=14, warm=lambda: warm(live_runtime))
    return token.secret


@pytest.fixture
def imported(demo, live_runtime, broker, worker):
    """The demo's last 30 days of orders, imported by the real job."""
    job_id = launch_import(live_runtime, "demo", 30, now=utcnow()).job_id

    def status() -> str | None:
        with live_runtime.read_transaction() as session:
            job = session.get(Job, job_id)
            return job.status if job is not None and job.status in ("succeeded", "dead") else None

    assert wait_until(status, 120) == "succeeded"
    return demo


def signed_in_owner(browser, site, token, **options):
    tab = new_tab(browser, site, **options)
    tab.sign_in_as_owner(token)
    return tab


@pytest.mark.parametrize(("width", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_an_owner_reads_insights_and_orders_at_phone_and_desktop_width(
    browser, site, imported, width, viewport
):
    tab = signed_in_owner(browser, site, imported, viewport=viewport)
    tab.page.click("nav >> text=Insights")
    tab.page.wait_for_url(f"**{PAGE}")
    assert tab.page.locator("h1 bdi").get_attribute("dir") == "auto"
    assert "مطعم الديوان" in tab.page.locator("h1").inner_text()
    assert "Asia/Riyadh" in tab.page.locator(".page-head").inner_text()
    # One heatmap layout per width: days as rows on a desktop, hours as rows on a phone.
    shown = ".heat-tall" if width == "phone" else ".heat-wide"
    hidden = ".heat-wide" if width == "phone" else ".heat-tall"
    assert tab.page.locator(shown).first.is_visible()
    assert not tab.page.locator(hidden).first.is_visible()
    assert tab.page.locator(".funnel li").count() == 4
    assert tab.page.locator("text=never opened").count() >= 1
    assert tab.page.locator("#orders-title").is_visible()
    assert tab.page.locator("text=No order history yet").count() == 0
    assert " SAR" in tab.page.locator(".tile .money").first.inner_text()
    tab.screenshot(f"owner-insights-{width}")
    # Longer period through a quick link.
    tab.page.click("text=last 30 days")
    tab.page.wait_for_url("**from=*")
    assert tab.page.locator(".quick a[aria-current=true]").inner_text() == "last 30 days"
    tab.screenshot(f"owner-insights-30-days-{width}")
    # Nothing wider than the screen: the heatmap scrolls inside its card, if at all.
    overflow = tab.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    assert tab.csp_violations() == []
    assert tab.console_errors == []


def test_before_an_import_the_page_says_how_to_get_order_history(browser, site, demo):
    tab = signed_in_owner(browser, site, demo, viewport=PHONE)
    tab.open(PAGE)
    orders = tab.page.locator("#orders-title").locator("xpath=..")
    assert "No order history yet — import it from the Jobs page" in orders.inner_text()
    assert orders.locator("a").first.get_attribute("href") == "/dashboard/r/demo/jobs"
    tab.screenshot("owner-insights-before-import-phone")
    assert tab.open("/dashboard/r/burger-hub/insights").status == 404
    assert tab.console_errors == [] or all("404" in e for e in tab.console_errors)


def test_insights_read_and_the_period_picker_works_with_javascript_off(browser, site, demo):
    tab = signed_in_owner(browser, site, demo, javascript=False)
    tab.open(PAGE)
    assert tab.page.locator("h1").count() == 1
    assert tab.page.locator(".heat-wide td.heat-5").count() >= 1
    tab.page.fill("#from", "2020-01-01")
    tab.page.click("button:text('Show')")
    assert "That period cannot be shown" in tab.page.locator("h1").inner_text()
    tab.screenshot("owner-insights-bad-period")
    tab.page.click("text=Show the last 7 days")
    tab.page.wait_for_url(f"**{PAGE}")
    assert tab.page.locator("h2#findings-title").count() == 1
    # A period before any conversation says so, and what to do.
    tab.open(f"{PAGE}?from=2020-01-01&to=2020-01-31")
    assert "No conversations in this period" in tab.page.locator(".empty").first.inner_text()
    tab.screenshot("owner-insights-quiet-period")
