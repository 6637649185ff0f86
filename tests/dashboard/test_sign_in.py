"""Signing in and out: CSRF, the failed sign-in limit, sessions, cookies, headers."""

import datetime as dt
import logging

import pytest

from bot import create_app
from signin.models import DashboardSession
from store import credentials
from store.models import ApiKey
from tests.dashboard.conftest import csrf_of, sign_in

PAGES = [
    "/dashboard/admin/overview",
    "/dashboard/admin/restaurants",
    "/dashboard/admin/restaurants.csv",
    "/dashboard/admin/jobs",
    "/dashboard/admin/dead-letters",
    "/dashboard/admin/dead-letters/confirm?action=retry",
    "/dashboard/admin/breakers",
    "/dashboard/r/r1/usage",
]


def test_the_root_and_the_dashboard_send_a_stranger_to_the_login_page(client):
    assert client.get("/").status_code == 302
    assert client.get("/").headers["Location"].endswith("/dashboard/")
    assert client.get("/dashboard/").headers["Location"].endswith("/dashboard/login")
    page = client.get("/dashboard/login")
    assert page.status_code == 200
    assert 'name="api_key"' in page.get_data(as_text=True)
    assert 'name="restaurant_id"' in page.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
def test_a_signed_out_request_for_any_page_goes_to_the_login_page(client, people, path):
    answer = client.get(path)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/dashboard/login")


def test_an_admin_key_signs_in_to_the_overview(app, people):
    client = app.test_client()
    answer = sign_in(client, api_key=people.admin_key)
    assert answer.status_code == 302
    assert client.get("/dashboard/").headers["Location"].endswith("/dashboard/admin/overview")
    assert client.get("/dashboard/admin/overview").status_code == 200


def test_an_owner_signs_in_to_their_usage_page(app, people):
    client = app.test_client()
    sign_in(client, restaurant_id="r1", token=people.owner_token)
    assert client.get("/dashboard/").headers["Location"].endswith("/dashboard/r/r1/usage")
    assert "مطعم الديوان" in client.get("/dashboard/r/r1/usage").get_data(as_text=True)


@pytest.mark.parametrize(
    "fields",
    [
        {"api_key": "rbkey_notavalidkey"},
        {"restaurant_id": "r2", "token": "from-fixture"},
        {"restaurant_id": "r1", "token": "rbpat_wrong"},
        {},
    ],
    ids=["wrong-key", "pat-of-another-restaurant", "wrong-pat", "nothing"],
)
def test_wrong_credentials_answer_401_with_the_form_and_one_message(app, people, fields):
    if fields.get("token") == "from-fixture":
        fields = {**fields, "token": people.owner_token}
    client = app.test_client()
    answer = sign_in(client, **fields)
    assert answer.status_code == 401
    page = answer.get_data(as_text=True)
    assert page.count('role="alert"') == 1
    assert 'name="api_key"' in page
    assert people.owner_token not in page
    assert client.get("/dashboard/admin/overview").status_code == 302  # still signed out


@pytest.mark.parametrize("token", [None, "forged"], ids=["missing", "wrong"])
def test_a_post_without_the_right_csrf_token_is_400_and_changes_nothing(
    app, people, admin, db_session, token
):
    stranger = app.test_client()
    data = {"api_key": people.admin_key}
    if token:
        data["csrf_token"] = token
    stranger.get("/dashboard/login")
    answer = stranger.post("/dashboard/login", data=data)
    assert answer.status_code == 400
    assert "csrf_failed" in answer.get_data(as_text=True)
    assert stranger.get("/dashboard/admin/overview").status_code == 302
    # A signed-in admin's sign-out without it ends nothing either.
    refused = admin.post("/dashboard/logout", data={"csrf_token": token} if token else {})
    assert refused.status_code == 400
    assert admin.get("/dashboard/admin/overview").status_code == 200


def test_the_11th_failed_sign_in_in_a_minute_is_429_even_with_the_right_key(app, people):
    client = app.test_client()
    for _ in range(10):
        assert sign_in(client, api_key="rbkey_wrong").status_code == 401
    limited = sign_in(client, api_key=people.admin_key)
    assert limited.status_code == 429
    assert "rate_limited" in limited.get_data(as_text=True)
    assert limited.headers["Retry-After"] == "60"
    # Another address is not limited.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    assert sign_in(other, api_key=people.admin_key).status_code == 302


def test_the_limit_follows_the_setting(runtime, people):
    app = create_app(
        runtime=type(runtime)(
            runtime.settings.replace(login_failures_per_minute=2),
            engine=runtime.engine,
            session_factory=runtime.sessions,
        )
    )
    client = app.test_client()
    assert sign_in(client, api_key="rbkey_wrong").status_code == 401
    assert sign_in(client, api_key="rbkey_wrong").status_code == 401
    assert sign_in(client, api_key=people.admin_key).status_code == 429


def test_forwarded_for_counts_only_when_a_trusted_proxy_sends_it(runtime, people):
    trusting = runtime.settings.replace(trusted_proxies=("127.0.0.1/32",))
    app = create_app(
        runtime=type(runtime)(trusting, engine=runtime.engine, session_factory=runtime.sessions)
    )
    client = app.test_client()
    for n in range(10):  # ten clients behind the proxy, one failure each
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{n}"
        assert sign_in(client, api_key="rbkey_wrong").status_code == 401
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.200"
    assert sign_in(client, api_key=people.admin_key).status_code == 302
    # Untrusted peers' X-Forwarded-For means nothing: one address, limited.
    direct = create_app(runtime=runtime).test_client()
    for n in range(10):
        direct.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{n}"
        assert sign_in(direct, api_key="rbkey_wrong").status_code == 401
    direct.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.200"
    assert sign_in(direct, api_key=people.admin_key).status_code == 429


def test_signing_in_issues_a_new_session_and_ends_the_one_the_browser_had(app, people, db_session):
    client = app.test_client()
    sign_in(client, api_key=people.admin_key)
    first = client.get_cookie("rb_session", path="/dashboard").value
    sign_in(client, api_key=people.viewer_key)
    second = client.get_cookie("rb_session", path="/dashboard").value
    assert first != second
    assert db_session.query(DashboardSession).count() == 1
    assert "read-only" in client.get("/dashboard/admin/overview").get_data(as_text=True)


def test_the_session_cookie_is_http_only_lax_and_scoped_to_the_dashboard(app, people):
    client = app.test_client()
    answer = sign_in(client, api_key=people.admin_key)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/dashboard" in cookie
    assert "Secure" not in cookie
    assert people.admin_key not in cookie


def test_the_session_cookie_is_secure_behind_an_https_public_url(runtime, people):
    https = runtime.settings.replace(public_base_url="https://bot.example.com")
    app = create_app(
        runtime=type(runtime)(https, engine=runtime.engine, session_factory=runtime.sessions)
    )
    assert "Secure" in sign_in(app.test_client(), api_key=people.admin_key).headers["Set-Cookie"]


def test_revoking_the_key_ends_its_sessions_at_the_next_request(admin, db_session):
    assert admin.get("/dashboard/admin/overview").status_code == 200
    key = db_session.query(ApiKey).filter_by(name="ops").one()
    credentials.revoke(db_session, ApiKey, key.prefix)
    db_session.flush()
    answer = admin.get("/dashboard/admin/overview")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/dashboard/login")


def test_a_session_idle_for_12_hours_is_over(admin, db_session):
    session = db_session.query(DashboardSession).one()
    session.last_seen_at -= dt.timedelta(hours=11, minutes=59)
    db_session.flush()
    assert admin.get("/dashboard/admin/overview").status_code == 200  # and seen again now
    session.last_seen_at -= dt.timedelta(hours=12)
    db_session.flush()
    assert admin.get("/dashboard/admin/overview").status_code == 302


def test_signing_out_ends_the_session(admin, db_session):
    page = admin.get("/dashboard/admin/overview").get_data(as_text=True)
    answer = admin.post("/dashboard/logout", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/dashboard/login")
    assert db_session.query(DashboardSession).count() == 0
    assert admin.get("/dashboard/admin/overview").status_code == 302


@pytest.mark.parametrize("path", ["/", "/dashboard/login", *PAGES[:3], "/dashboard/nope"])
def test_every_answer_carries_the_security_headers(admin, path):
    answer = admin.get(path)
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "same-origin"


def test_no_credential_reaches_a_page_a_url_or_the_log(app, people, caplog):
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    answer = sign_in(client, api_key=people.admin_key)
    assert people.admin_key not in answer.headers["Location"]
    for path in PAGES:
        assert people.admin_key not in client.get(path).get_data(as_text=True)
    sign_in(app.test_client(), restaurant_id="r1", token=people.owner_token)
    assert people.admin_key not in caplog.text
    assert people.owner_token not in caplog.text


def test_unknown_dashboard_addresses_are_a_404_page(admin):
    answer = admin.get("/dashboard/admin/nothing")
    assert answer.status_code == 404
    assert answer.mimetype == "text/html"
