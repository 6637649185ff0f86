"""Dashboard fixtures: restaurants and credentials, and clients signed in the way a
browser signs in (the login form, its CSRF token, the session cookie)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from store import credentials
from store.timeutil import utcnow
from tests.support import dashboard_data
from tests.support.servers import serving
from tests.usage_api.conftest import NOW, add_restaurant, clock, statements  # noqa: F401

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    """Return the CSRF token of the first form of a page."""
    match = CSRF.search(page)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: FlaskClient, **fields: str):
    """Post the login form with a fresh CSRF token; return the answer."""
    token = csrf_of(client.get("/dashboard/login").get_data(as_text=True))
    return client.post("/dashboard/login", data={"csrf_token": token, **fields})


def post(client: FlaskClient, path: str, page: str | None = None, **fields):
    """Post a dashboard form with the CSRF token of `page` (default: the Overview's)."""
    page = page or client.get("/dashboard/admin/restaurants").get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_of(page), **fields})


@dataclass
class People:
    admin_key: str
    viewer_key: str
    owner_token: str


@pytest.fixture
def people(db_session, settings) -> People:
    """Restaurants r1 (Riyadh) and r2, an admin key, a read-only key, r1's owner token."""
    add_restaurant(db_session, settings, "r1", timezone="Asia/Riyadh", name="مطعم الديوان")
    add_restaurant(db_session, settings, "r2", name="Second Grill")
    return People(
        admin_key=credentials.create_api_key(db_session, name="ops").secret,
        viewer_key=credentials.create_api_key(db_session, name="eyes", role="viewer").secret,
        owner_token=credentials.create_pat(
            db_session, restaurant_id="r1", expires_in_days=None
        ).secret,
    )


@pytest.fixture
def admin(app, people) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, api_key=people.admin_key).status_code == 302
    return client


@pytest.fixture
def viewer(app, people) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, api_key=people.viewer_key).status_code == 302
    return client


@pytest.fixture
def owner(app, people) -> FlaskClient:
    client = app.test_client()
    answer = sign_in(client, restaurant_id="r1", token=people.owner_token)
    assert answer.status_code == 302
    return client


__all__ = ["NOW", "People", "csrf_of", "post", "sign_in"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a browser, leave the browser tests out and say so once (unless required)."""
    from tests.dashboard.browser import browser_required, missing_browser

    wanted = [item for item in items if item.get_closest_marker("browser")]
    problem = missing_browser() if wanted else None
    if problem is None or browser_required():
        return
    items[:] = [item for item in items if not item.get_closest_marker("browser")]
    config.hook.pytest_deselected(items=wanted)
    config.stash[_SKIPPED] = f"!!! {len(wanted)} BROWSER TESTS SKIPPED: {problem} !!!"


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """Print the one loud line of skipped browser tests."""
    line = config.stash.get(_SKIPPED, None)
    if line:
        terminalreporter.write_line(line, red=True, bold=True)


_SKIPPED = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright (skipped, loudly, when there is none)."""
    from tests.dashboard.browser import launch

    yield from launch()


@pytest.fixture
def site(live_app):
    """The app served on 127.0.0.1 for the browser: its base URL."""
    with serving(live_app) as url:
        yield url


@pytest.fixture
def owner_token(live_runtime) -> str:
    """The demo restaurant (and the others), and its owner's token (committed)."""
    dashboard_data.seed_restaurants(live_runtime, utcnow())
    with live_runtime.transaction() as session:
        return credentials.create_pat(session, restaurant_id="demo", expires_in_days=None).secret
