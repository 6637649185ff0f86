"""The dashboard in a real browser (Debian's Chromium, Playwright), against a real server
(Werkzeug on 127.0.0.1), real Redis and the run's database.

Every page is also photographed at phone (360 px) and desktop (1,440 px) widths into
`SCREENSHOT_DIR`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from insights.models import HourlyInsight
from store import credentials
from store.models import Job
from store.timeutil import utcnow
from tests.dashboard.browser import DESKTOP, PHONE, new_tab
from tests.support import dashboard_data
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN_PAGES = [
    "/dashboard/admin/overview",
    "/dashboard/admin/restaurants",
    "/dashboard/admin/jobs",
    "/dashboard/admin/dead-letters",
    "/dashboard/admin/dead-letters/confirm?action=retry&errorClass=CatalogUnavailable",
    "/dashboard/admin/breakers",
    "/dashboard/admin/batches",
    "/dashboard/r/demo/usage",
]


@pytest.fixture
def settings(base_settings):
    """The run's settings, with breakers that stay open long enough to be seen."""
    return base_settings.replace(catalog_breaker_cooldown_ms=120_000)


@pytest.fixture
def keys(live_runtime):
    """An admin key, a read-only key and the demo restaurant owner's token (committed)."""
    with live_runtime.transaction() as session:
        admin = credentials.create_api_key(session, name="ops")
        viewer = credentials.create_api_key(session, name="eyes", role="viewer")
    return admin, viewer


@pytest.fixture
def world(live_runtime, keys):
    """A working day's data: restaurants, jobs, dead letters, a breaker, audit entries."""
    now = utcnow()
    dashboard_data.seed_everything(live_runtime, now, keys[0].prefix)
    with live_runtime.transaction() as session:
        owner = credentials.create_pat(session, restaurant_id="demo", expires_in_days=None)
    return owner.secret


def test_an_admin_signs_in_sees_the_overview_and_signs_out(browser, site, keys, world):
    tab = new_tab(browser, site)
    tab.open("/")
    assert tab.page.url.endswith("/dashboard/login")
    tab.sign_in_with_key(keys[0].secret)
    assert tab.page.url.endswith("/dashboard/admin/overview")
    assert tab.page.locator("h1").inner_text() == "Overview"
    assert tab.page.locator(".tile.alarm").filter(has_text="Dead letters").count() == 1
    assert keys[0].secret not in tab.page.content()
    tab.page.click("text=Sign out")
    tab.page.wait_for_url("**/dashboard/login")
    tab.open("/dashboard/admin/overview")
    assert tab.page.url.endswith("/dashboard/login")
    assert tab.console_errors == []


def test_wrong_credentials_show_the_form_again_with_one_message(browser, site, keys):
    tab = new_tab(browser, site)
    tab.open("/dashboard/login")
    tab.page.fill("#api_key", "rbkey_wrong")
    with tab.page.expect_response("**/dashboard/login") as answer:
        tab.page.click("text=Sign in as operator")
    assert answer.value.status == 401
    assert tab.page.locator("[role=alert]").count() == 1
    assert tab.page.locator("#api_key").input_value() == ""


# The owner's own sign-in, Usage page and sign-out: test_owner_browser.py.


def test_a_viewer_sees_every_page_and_every_action_is_refused(
    browser, site, keys, world, live_runtime
):
    tab = new_tab(browser, site)
    tab.sign_in_with_key(keys[1].secret)
    for path in ADMIN_PAGES:
        assert tab.open(path).status == 200, path
    tab.open("/dashboard/admin/dead-letters")
    assert tab.page.locator("button:text('Retry')").first.is_disabled()
    assert tab.page.locator("text=read-only key").count() >= 1
    tab.open("/dashboard/admin/dead-letters/confirm?action=delete")
    assert tab.page.locator("form[action$='/bulk']").count() == 0
    before = _dead_letters(live_runtime)
    # The buttons are disabled; a viewer who posts anyway (the form re-enabled) is refused.
    tab.open("/dashboard/admin/dead-letters")
    tab.page.evaluate("document.querySelectorAll('button, input').forEach(e => e.disabled = false)")
    tab.page.locator("input[name=ids]").first.check()
    with tab.page.expect_response(lambda r: r.request.method == "POST") as answer:
        tab.page.click("button[name=action][value=delete]")
    assert answer.value.status == 403
    assert "Read-only key" in tab.page.content()
    assert _dead_letters(live_runtime) == before


def test_bulk_retry_of_a_filtered_set_requeues_exactly_the_previewed_count(
    browser, site, keys, world, live_runtime
):
    tab = new_tab(browser, site)
    tab.sign_in_with_key(keys[0].secret)
    tab.open("/dashboard/admin/dead-letters")
    tab.page.fill("#errorClass", "CatalogUnavailable")
    tab.page.click("text=Filter")
    assert "9 dead letters match" in tab.page.inner_text(".bulk-bar")
    tab.page.click("text=Retry all 9…")
    assert "Retry 9 dead letters?" in tab.page.inner_text("h1")
    bootstrap = f"{live_runtime.settings.redis_namespace}:bootstrap"
    queued_before = live_runtime.redis.llen(bootstrap)
    tab.page.click("button:text('Retry 9 dead letters')")
    tab.page.wait_for_url("**/dashboard/admin/dead-letters?**")
    assert "9 dead letter(s) put back on their queues" in tab.page.inner_text("[role=status]")
    assert live_runtime.redis.llen(bootstrap) - queued_before == 9
    assert _dead_letters(live_runtime) == 6
    with live_runtime.read_transaction() as session:
        entries = session.execute(
            __import__("sqlalchemy").text(
                "SELECT key_prefix, count FROM audit_entries WHERE count = 9"
            )
        ).all()
    assert entries == [(keys[0].prefix, 9)]


def test_a_stale_preview_is_refused_and_changes_nothing(browser, site, keys, world, live_runtime):
    tab = new_tab(browser, site)
    tab.sign_in_with_key(keys[0].secret)
    tab.open("/dashboard/admin/dead-letters/confirm?action=retry&errorClass=TwilioError:63016")
    assert "Retry 4 dead letters?" in tab.page.inner_text("h1")
    dashboard_data.put_dead_letter(  # one more arrives while the operator reads
        live_runtime,
        actor="deliver_message",
        queue="delivery",
        kwargs={"restaurant_id": "demo"},
        error_class="TwilioError:63016",
        last_error="SendRefused: 63016",
        at=utcnow(),
    )
    with tab.page.expect_response(lambda r: r.request.method == "POST") as answer:
        tab.page.click("button:text('Retry 4 dead letters')")
    assert answer.value.status == 409
    assert "You previewed 4 dead letter(s); 5 match now" in tab.page.content()
    assert _dead_letters(live_runtime) == 16
    tab.page.click("text=Preview the selection again")
    assert "Retry 5 dead letters?" in tab.page.inner_text("h1")


def test_live_progress_moves_without_a_reload(browser, site, keys, live_runtime, broker, worker):
    from tests.support import job_actors

    message = job_actors.slow_job.send(seconds=6.0, steps=6)
    tab = new_tab(browser, site)
    tab.sign_in_with_key(keys[0].secret)
    assert wait_until(lambda: _job(live_runtime, message.message_id) is not None)
    tab.open("/dashboard/admin/jobs")
    row = tab.page.locator(f"tr[data-job='{message.message_id}']")
    first = row.locator("[data-progress-text]").inner_text()
    assert wait_until(lambda: row.locator("[data-progress-text]").inner_text() != first, timeout=30)
    assert wait_until(lambda: row.get_attribute("data-state") == "succeeded", timeout=60)
    assert row.locator("[data-status]").inner_text() == "succeeded"
    assert "6 / 6" in row.locator("[data-progress-text]").inner_text()
    assert tab.console_errors == []


def test_an_admin_seals_and_analyzes_from_the_batches_page(
    browser, site, keys, world, live_runtime, broker, worker
):
    tab = new_tab(browser, site)
    tab.sign_in_with_key(keys[0].secret)
    tab.open("/dashboard/admin/batches")
    waiting = sum(b[3] for b in dashboard_data.BATCHES)
    assert tab.page.locator(".tile-value").first.inner_text() == str(waiting)
    tab.page.click("button:text('Seal now: every restaurant')")
    tab.page.wait_for_url("**/dashboard/admin/batches?done=seal&count=2")
    assert "Sealed 2 batches" in tab.page.inner_text("[role=status]")
    rows = [tab.page.locator("tr[data-batch]").nth(n) for n in (0, 1)]
    names = [row.locator("td[data-label=Restaurant] code").inner_text() for row in rows]
    assert sorted(names) == ["demo", "sushi-bay"]
    # The worker analyzes them; the page follows without a reload.
    # The batch reads "analyzed" when the job commits its work; the job's own row says
    # "succeeded" a moment later (after the message is acknowledged), so wait for both.
    for row in rows:
        assert wait_until(
            lambda row=row: (
                (
                    row.locator("[data-batch-status]").inner_text(),
                    row.locator("[data-status]").inner_text(),
                )
                == ("analyzed", "succeeded")
            ),
            timeout=60,
        )
        assert row.locator("[data-analyzed-at] time").count() == 1
    tab.screenshot("batches-analyzed")
    demo = rows[names.index("demo")]
    batch_id = int(demo.get_attribute("data-batch"))
    before = _messages_in(live_runtime, "demo")
    demo.locator("button:text('Analyze')").click()
    tab.page.wait_for_url("**/dashboard/admin/batches?done=analyze**")
    notice = tab.page.inner_text("[role=status]")
    assert f"sent for batch #{batch_id}" in notice
    assert "already analyzed, so this job runs and changes nothing" in notice
    tab.page.click("[role=status] a")  # the job, on the Jobs page
    job_row = tab.page.locator("tr[data-job]")
    assert job_row.count() == 1
    assert wait_until(lambda: job_row.get_attribute("data-state") == "succeeded", timeout=60)
    assert _messages_in(live_runtime, "demo") == before  # counted once, not twice
    with live_runtime.read_transaction() as session:
        actions = session.execute(
            text(
                "SELECT key_prefix, action, count FROM audit_entries"
                " WHERE action LIKE 'batches.%' ORDER BY id"
            )
        ).all()
    assert actions == [(keys[0].prefix, "batches.seal", 2), (keys[0].prefix, "batches.analyze", 1)]
    assert tab.console_errors == []


def test_the_csv_export_has_one_header_and_every_restaurant(browser, site, keys, world):
    tab = new_tab(browser, site)
    tab.sign_in_with_key(keys[0].secret)
    tab.open("/dashboard/admin/restaurants?sort=conversationsThisMonth&order=desc")
    with tab.page.expect_download() as download:
        tab.page.click("text=Export CSV")
    content = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0][:3] == ["restaurantId", "restaurantName", "conversationsThisMonth"]
    assert len(rows) == 1 + len(dashboard_data.RESTAURANTS)
    counts = [int(row[2]) for row in rows[1:]]
    assert counts == sorted(counts, reverse=True)
    assert "بيت الشاورما" in content


@pytest.mark.parametrize(("width", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_no_page_has_console_errors_or_csp_violations(browser, site, keys, world, width, viewport):
    tab = new_tab(browser, site, viewport=viewport)
    tab.open("/dashboard/login")
    tab.screenshot(f"login-{width}")
    tab.sign_in_with_key(keys[0].secret)
    for path in ADMIN_PAGES:
        answer = tab.open(path)
        assert answer.status == 200, path
        name = path.split("?")[0].strip("/").replace("/", "-")
        tab.screenshot(f"{name}-{width}")
        assert tab.csp_violations() == [], path
        # Readable at this width: nothing wider than the screen but scrolling tables.
        overflow = tab.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, (path, overflow)
    tab.open("/dashboard/admin/nothing-here")
    tab.screenshot(f"not-found-{width}")
    assert [e for e in tab.console_errors if "404" not in e] == []


def test_every_page_reads_with_javascript_off(browser, site, keys, world):
    tab = new_tab(browser, site, javascript=False)
    tab.sign_in_with_key(keys[0].secret)
    assert tab.page.url.endswith("/dashboard/admin/overview")
    for path in ADMIN_PAGES:
        assert tab.open(path).status == 200, path
        assert tab.page.locator("h1").count() == 1, path
    tab.open("/dashboard/admin/dead-letters?errorClass=CatalogRejected")
    tab.page.locator("input[name=ids]").first.check()
    tab.page.click("button[name=action][value=retry]")
    assert "1 dead letter(s) put back" in tab.page.inner_text("[role=status]")
    tab.open("/dashboard/admin/batches")
    tab.page.click("button:text('Seal now: every restaurant')")
    assert "Sealed 2 batches" in tab.page.inner_text("[role=status]")


def _dead_letters(runtime) -> int:
    ns = runtime.settings.redis_namespace
    return sum(runtime.redis.zcard(f"{ns}:{queue}.XQ") for queue in ("bootstrap", "delivery"))


def _messages_in(runtime, restaurant_id: str) -> int:
    with runtime.read_transaction() as session:
        return session.scalar(
            select(func.sum(HourlyInsight.messages_in)).where(
                HourlyInsight.restaurant_id == restaurant_id
            )
        )


def _job(runtime, job_id: str) -> Job | None:
    with runtime.read_transaction() as session:
        return session.get(Job, job_id)


def test_the_overview_on_demo_data(browser, site, keys, world, live_runtime):
    """The README's screenshot: the Overview of a working day, at desktop width."""
    tab = new_tab(browser, site, viewport={"width": 1440, "height": 1000})
    tab.sign_in_with_key(keys[0].secret)
    dashboard_data.seed_processes(live_runtime)  # heartbeats as fresh as running processes'
    tab.open("/dashboard/admin/overview")
    assert tab.page.locator("svg.chart").count() == 2
    assert tab.page.locator(".tile.alarm").filter(has_text="Processes").count() == 0
    tab.screenshot("overview-demo")
