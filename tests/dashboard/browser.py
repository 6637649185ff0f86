"""Driving Debian's Chromium with Playwright for Python, for the dashboard's browser tests.

Chromium is found at `CHROMIUM_PATH` (default /usr/bin/chromium). Without it (or without
Playwright) the browser tests are skipped with one line saying so — unless
`REQUIRE_BROWSER=1` (CI sets it), which makes that a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1440, "height": 900}

# Records CSP violations in the page (Playwright injects it outside the page's CSP).
_WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def browser_required() -> bool:
    """Return True when a missing browser must fail the run (CI sets REQUIRE_BROWSER=1)."""
    return os.environ.get("REQUIRE_BROWSER") == "1"


def missing_browser() -> str | None:
    """Return why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (make install)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
    return None


def launch() -> Iterator[Any]:
    """Yield a Chromium browser; fail when there is none (the conftest deselects the
    browser tests beforehand unless REQUIRE_BROWSER=1)."""
    problem = missing_browser()
    if problem is not None:
        pytest.fail(f"REQUIRE_BROWSER=1 but {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A page in a fresh browser context, with what went wrong in it recorded."""

    page: Any
    base_url: str
    console_errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> Any:
        """Go to `path` and return the answer."""
        return self.page.goto(self.base_url + path)

    def csp_violations(self) -> list[str]:
        """Return the CSP violations the page saw (none when JavaScript is off)."""
        try:
            return list(self.page.evaluate("window.__csp || []"))
        except Exception:  # JavaScript off: nothing can run, nothing was reported
            return []

    def sign_in_with_key(self, key: str) -> None:
        """Sign in through the form, as an operator."""
        self.open("/dashboard/login")
        self.page.fill("#api_key", key)
        self.page.click("text=Sign in as operator")
        self.page.wait_for_load_state()

    def sign_in_as_owner(self, token: str, restaurant_id: str = "demo") -> None:
        """Sign in through the form, as the restaurant's owner; land on its Usage page."""
        self.open("/dashboard/login")
        self.page.fill("#restaurant_id", restaurant_id)
        self.page.fill("#token", token)
        self.page.click("text=Sign in as owner")
        self.page.wait_for_url(f"**/dashboard/r/{restaurant_id}/usage")

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot under `SCREENSHOT_DIR` (default: the run's tmp)."""
        folder = Path(os.environ.get("SCREENSHOT_DIR") or "/tmp/dashboard-screenshots")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        # And the first screen alone: what a phone shows before any scrolling.
        self.page.screenshot(path=str(folder / f"{name}-first-screen.png"))
        return path


def new_tab(
    browser: Any, base_url: str, *, viewport: dict[str, int] = DESKTOP, javascript: bool = True
) -> Tab:
    """Return a tab in a fresh context (its own cookies) watching console and CSP."""
    context = browser.new_context(viewport=viewport, java_script_enabled=javascript, locale="en-US")
    context.add_init_script(_WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    tab = Tab(page=page, base_url=base_url)
    page.on(
        "console",
        lambda message: message.type == "error" and tab.console_errors.append(message.text),
    )
    page.on("pageerror", lambda error: tab.console_errors.append(str(error)))
    return tab
