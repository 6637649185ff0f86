"""Signing in and out (SPEC §14), and `/dashboard/` sending each person to their first page.

Sign-in checks, in this order: the CSRF token (`400 csrf_failed`), the failed sign-in limit
of the client's address (`429 rate_limited`), then the credential (`401`, the form again
with one message). A success opens a new server-side session (a new id: no fixation) and
ends the one the browser had.
"""

from __future__ import annotations

from flask import Response, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot.context import runtime
from dashboard import security
from dashboard.blueprint import bp
from dashboard.errors import PageError
from signin.sessions import check_credentials, end_session, open_session
from signin.throttle import WINDOW_MS, SignInThrottle
from usage_api.clock import request_now

WRONG = (
    "That did not sign you in: the key or token is wrong, expired or revoked, or the token"
    " belongs to another restaurant."
)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Send a signed-in person to their first page, anyone else to the login page."""
    who = security.signed_in()
    if who is None:
        return redirect(url_for("dashboard.login"), 302)
    if who.is_admin:
        return redirect(url_for("dashboard.overview"), 302)
    return redirect(url_for("dashboard.owner_usage", restaurant_id=who.restaurant_id), 302)


@bp.get("/login")
def login() -> ResponseReturnValue:
    """Show the sign-in form."""
    return _form()


@bp.post("/login")
def sign_in() -> ResponseReturnValue:
    """Check CSRF, the failed sign-in limit, then the credential; open a session."""
    security.check_csrf()
    current = runtime()
    throttle = SignInThrottle(
        current.redis, current.keys, limit=current.settings.login_failures_per_minute
    )
    address = security.address()
    if throttle.is_blocked(address):
        raise PageError(
            429,
            "rate_limited",
            "Too many failed sign-ins from your address in the last minute. Wait a minute,"
            " then try again with the right key or token.",
            headers={"Retry-After": str(WINDOW_MS // 1000)},
        )
    api_key = request.form.get("api_key", "").strip()
    token = request.form.get("token", "").strip()
    restaurant_id = request.form.get("restaurant_id", "").strip()
    now = request_now()
    with current.transaction() as session:
        credential = check_credentials(
            session,
            api_key=api_key or None,
            token=None if api_key else token or None,
            restaurant_id=None if api_key else restaurant_id or None,
            now=now,
        )
        new_token = None
        if credential is not None:
            old = security.session_token()
            if old:
                end_session(session, old)
            new_token = open_session(session, credential, now=now)
    if new_token is None:
        throttle.record_failure(address)
        return _form(WRONG, restaurant_id=restaurant_id, status=401)
    answer = redirect(url_for("dashboard.index"), 302)
    security.set_session_cookie(answer, new_token)
    return answer


@bp.post("/logout")
def sign_out() -> ResponseReturnValue:
    """End the session and forget its cookie."""
    security.check_csrf()
    token = security.session_token()
    if token:
        with runtime().transaction() as session:
            end_session(session, token)
    answer = redirect(url_for("dashboard.login"), 302)
    security.clear_session_cookie(answer)
    return answer


@bp.route("/<path:anything>", methods=["GET", "POST"])
def unknown_page(anything: str) -> ResponseReturnValue:
    """Answer an address that is no page with the 404 page (not the API's JSON)."""
    raise PageError(404, "not_found", "There is no such page. Use the menu to find your way.")


def _form(message: str | None = None, *, restaurant_id: str = "", status: int = 200) -> Response:
    answer = make_response(
        render_template("login.html", message=message, restaurant_id=restaurant_id), status
    )
    return answer
