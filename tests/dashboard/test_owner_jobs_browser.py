"""The owner's Jobs page in a real browser: an owner imports their order history and watches
the bar move, without a reload, until the true count; an operator sees it read-only.

A real worker (in process, on the real broker) imports from the stand-in catalog over
HTTP; its `/orders` pages are slowed down and read one day at a time, so the import lasts
several seconds and the page's 2-second polling sees it half-way.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from imports.starting import running_import
from store import credentials
from store.models import Job
from store.timeutil import utcnow
from tests.dashboard.browser import DESKTOP, PHONE, new_tab
from tests.imports.conftest import upstream_orders
from tests.support import dashboard_data
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Seconds added to every `/orders` page: 30 days of demo orders are about 60 pages.
ORDERS_LATENCY = 0.15


@pytest.fixture
def settings(base_settings):
    """One day of orders at a time, so that the import takes a while."""
    return base_settings.replace(import_concurrency=1)


@pytest.fixture
def people(live_runtime):
    """A working day's data and the demo restaurant's owner token and an admin key."""
    with live_runtime.transaction() as session:
        admin = credentials.create_api_key(session, name="ops")
    dashboard_data.seed_everything(live_runtime, utcnow(), admin.prefix)
    with live_runtime.transaction() as session:
        owner = credentials.create_pat(session, restaurant_id="demo", expires_in_days=None)
    return owner.secret, admin.secret


def bar(tab) -> tuple[int, int, str]:
    """Return the import bar's value and maximum and the card's state."""
    return tab.page.evaluate(
        """() => {
          const card = document.querySelector('.import-job');
          const bar = card.querySelector('progress.import-bar');
          return [Number(bar.value), Number(bar.max), card.getAttribute('data-state')];
        }"""
    )


def test_an_owner_imports_and_watches_the_bar_move_to_the_true_count(
    browser, site, people, live_runtime, broker, worker, fake_catalog
):
    fake_catalog.orders_latency = ORDERS_LATENCY
    owner_token, _ = people
    phone = new_tab(browser, site, viewport=PHONE)
    phone.sign_in_as_owner(owner_token)
    phone.page.click("nav >> text=Jobs")
    phone.page.wait_for_url("**/dashboard/r/demo/jobs")
    phone.screenshot("owner-jobs-before-phone")
    phone.page.select_option("#days", "30")
    phone.page.click("button:text('Import order history')")
    phone.page.wait_for_url("**/dashboard/r/demo/jobs?started=*")
    assert "Import started." in phone.page.inner_text("[role=status]")
    job_id = phone.page.locator(".import-job").get_attribute("data-job")
    # The page is never reloaded from here on: this mark would be lost.
    phone.page.evaluate("window.__notReloaded = true")
    desktop = new_tab(browser, site, viewport=DESKTOP)
    desktop.sign_in_as_owner(owner_token)
    desktop.open("/dashboard/r/demo/jobs")

    seen: list[tuple[int, int, str]] = []

    def record() -> bool:
        now = bar(phone)
        if not seen or now != seen[-1]:
            seen.append(now)
        return now[2] in ("succeeded", "failed", "dead")

    # Half-way: the bar shows part of the orders (screenshots of a running import).
    assert wait_until(lambda: record() or 0 < seen[-1][0] < seen[-1][1], timeout=60)
    assert seen[-1][2] == "running", seen
    assert "day " in phone.page.inner_text(".import-progress")
    phone.screenshot("owner-jobs-running-phone")
    desktop.screenshot("owner-jobs-running-desktop")
    assert wait_until(record, timeout=120, interval=0.1), seen

    with live_runtime.read_transaction() as session:
        job = session.get(Job, job_id)
    true_count = len(upstream_orders(fake_catalog, job))
    assert job.result["orders"] == true_count > 1500
    value, maximum, state = seen[-1]
    assert (value, maximum, state) == (true_count, true_count, "succeeded"), seen
    values = [v for v, _, _ in seen]
    assert values == sorted(values), seen  # it only moves forward
    assert any(0 < v < true_count for v in values), seen  # and was seen on its way
    summary = phone.page.inner_text(".import-summary")
    assert f"Imported {true_count:,} orders from the last 30 days." in summary
    assert phone.page.locator(".import-summary .status").inner_text() == "done"
    link = phone.page.locator("a:text('See your orders on the Insights page')")
    assert link.is_visible()
    assert link.get_attribute("href") == "/dashboard/r/demo/insights"
    assert phone.page.locator("button:text('Import order history')").is_visible()
    assert phone.page.evaluate("window.__notReloaded") is True
    phone.screenshot("owner-jobs-finished-phone")
    assert wait_until(lambda: bar(desktop)[2] == "succeeded", timeout=30)
    desktop.screenshot("owner-jobs-finished-desktop")

    for tab in (phone, desktop):
        assert tab.console_errors == []
        assert tab.csp_violations() == []
    overflow = phone.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1


def test_without_javascript_a_second_start_shows_the_running_import(
    browser, site, people, live_runtime
):
    owner_token, _ = people
    first, second = (new_tab(browser, site, viewport=PHONE, javascript=False) for _ in "12")
    for tab in (first, second):
        tab.sign_in_as_owner(owner_token)
        tab.open("/dashboard/r/demo/jobs")  # both offer the button: no import yet
    first.page.click("button:text('Import order history')")
    first.page.wait_for_url("**/dashboard/r/demo/jobs?started=*")
    job_id = first.page.locator(".import-job").get_attribute("data-job")
    # No worker runs here: it stays queued, and the page offers no second start meanwhile.
    assert "Waiting to start" in first.page.inner_text(".import-summary")
    assert not first.page.locator("button:text('Import order history')").is_visible()
    first.screenshot("owner-jobs-queued-no-js-phone")
    # The other page, loaded before the import started, tries to start one more.
    second.page.click("button:text('Import order history')")
    second.page.wait_for_url(f"**/dashboard/r/demo/jobs?running={job_id}")
    assert "already running" in second.page.inner_text("[role=status]")
    assert second.page.locator(".import-job").get_attribute("data-job") == job_id
    with live_runtime.read_transaction() as session:
        assert running_import(session, "demo") == job_id
        imports = session.scalars(
            select(Job.id).where(Job.restaurant_id == "demo", Job.actor == "import_orders")
        ).all()
    assert imports == [job_id]
    second.screenshot("owner-jobs-already-running-no-js-phone")


def test_a_failed_import_says_what_happened_and_that_the_owner_can_try_again(
    browser, site, people, broker, worker, fake_catalog
):
    fake_catalog.fail(r"page=2", status=403)  # the first page of orders, then a refusal
    owner_token, _ = people
    tab = new_tab(browser, site, viewport=PHONE)
    tab.sign_in_as_owner(owner_token)
    tab.open("/dashboard/r/demo/jobs")
    tab.page.click("button:text('Import order history')")
    tab.page.wait_for_url("**/dashboard/r/demo/jobs?started=*")
    assert wait_until(lambda: bar(tab)[2] in ("failed", "dead"), timeout=60), bar(tab)
    summary = tab.page.inner_text(".import-summary")
    assert "The import stopped. Your ordering platform refused the request" in summary
    assert "orders it stored are kept; you can try again." in summary
    assert tab.page.locator(".import-summary .status").inner_text() == "failed"
    assert tab.page.locator("button:text('Import order history')").is_visible()
    assert not tab.page.locator("a:text('See your orders on the Insights page')").is_visible()
    assert not tab.page.locator("[role=status]").is_visible()  # "started" is no news now
    tab.screenshot("owner-jobs-failed-phone")
    desktop = new_tab(browser, site, viewport=DESKTOP)
    desktop.sign_in_as_owner(owner_token)
    desktop.open("/dashboard/r/demo/jobs")
    assert "you can try again" in desktop.page.inner_text(".import-summary")
    desktop.screenshot("owner-jobs-failed-desktop")
    for each in (tab, desktop):
        assert each.console_errors == []
        assert each.csp_violations() == []


def test_an_operator_sees_the_page_read_only(browser, site, people):
    _, admin_key = people
    tab = new_tab(browser, site, viewport=DESKTOP)
    tab.sign_in_with_key(admin_key)
    assert tab.open("/dashboard/r/demo/jobs").status == 200
    assert "read-only" in tab.page.inner_text(".flash")
    assert tab.page.locator("button:text('Import order history')").count() == 0
    assert tab.page.locator("tr[data-job]").count() > 0
    tab.screenshot("owner-jobs-operator-desktop")
    assert tab.console_errors == []
    assert tab.csp_violations() == []
