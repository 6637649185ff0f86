"""Who is signed in to the dashboard, and the rules every page follows.

- The session cookie (`rb_session`, path `/dashboard`, `HttpOnly`, `SameSite=Lax`, `Secure`
  when `PUBLIC_BASE_URL` is https) holds a random token signed with `SECRET_KEY`; the
  server keeps the session (`signin.sessions`). `/api/*` never sees it (another path).
- Every POST carries a CSRF token: an HMAC (itsdangerous, keyed by `SECRET_KEY`) of the
  session token, or before sign-in of a random `rb_csrf` cookie. A missing or wrong one is
  `400 csrf_failed`, checked before anything else.
- Headers on every answer: a Content-Security-Policy without inline script or style,
  `X-Frame-Options: DENY`, `Referrer-Policy: same-origin`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, redirect, request, url_for
from itsdangerous import BadSignature, Signer
from werkzeug.wrappers import Response

from bot.context import runtime
from dashboard.errors import PageError
from signin.client_address import client_address
from signin.sessions import SignedIn, load_session, touch, touch_is_due
from usage_api.clock import request_now

SESSION_COOKIE = "rb_session"
CSRF_COOKIE = "rb_csrf"
COOKIE_PATH = "/dashboard"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

F = TypeVar("F", bound=Callable[..., Any])


def _secret() -> str:
    secret = runtime().settings.secret_key
    if not secret:
        raise PageError(
            503,
            "unavailable",
            "The dashboard needs SECRET_KEY (it signs sessions and CSRF tokens); set it and"
            " restart the web process.",
            title="The dashboard is not configured",
        )
    return secret


def _signer(purpose: str) -> Signer:
    return Signer(_secret(), salt=f"restaurant-bot dashboard {purpose}")


def session_token() -> str | None:
    """Return the session token of the request's cookie when its signature is good."""
    if "session_token" not in g:
        raw = request.cookies.get(SESSION_COOKIE)
        token = None
        if raw:
            try:
                token = _signer("session").unsign(raw).decode()
            except BadSignature:
                token = None
        g.session_token = token
    return cast("str | None", g.session_token)


def load_signed_in() -> None:
    """Read who is signed in (one statement), for the views and templates (`g.signed_in`)."""
    _secret()
    g.signed_in = None
    token = session_token()
    if token:
        with runtime().read_transaction() as session:
            g.signed_in = load_session(session, token, now=request_now())


def signed_in() -> SignedIn | None:
    """Return who is signed in, or None."""
    return cast("SignedIn | None", g.get("signed_in"))


def set_session_cookie(response: Response, token: str) -> None:
    """Hand the browser the new session's token (signed)."""
    response.set_cookie(
        SESSION_COOKIE,
        _signer("session").sign(token).decode(),
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=_secure(),
    )


def clear_session_cookie(response: Response) -> None:
    """Make the browser forget its session cookie."""
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="Lax", secure=_secure()
    )


def csrf_token() -> str:
    """Return the CSRF token the page's forms carry."""
    return _signer("csrf").get_signature(_csrf_binding()).decode()


def check_csrf() -> None:
    """Refuse a POST without the right CSRF token (form field or header).

    Raises:
      PageError: 400 `csrf_failed`.
    """
    offered = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    binding = _csrf_binding(create=False)
    expected = _signer("csrf").get_signature(binding).decode() if binding else ""
    if not binding or not offered or not hmac.compare_digest(offered, expected):
        raise PageError(
            400,
            "csrf_failed",
            "This form has expired or did not come from this dashboard (its security token"
            " is missing or wrong). Nothing was changed: reload the page and try again.",
            title="Form expired",
        )


def _csrf_binding(*, create: bool = True) -> str:
    token = session_token()
    if token:
        return "session:" + token
    value = g.get("new_csrf_cookie") or request.cookies.get(CSRF_COOKIE)
    if not value and create:
        value = g.new_csrf_cookie = secrets.token_urlsafe(24)
    return "browser:" + value if value else ""


def finish_response(response: Response) -> Response:
    """Add the security headers, a new CSRF cookie, and record the session's use."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith(COOKIE_PATH) and not request.path.startswith("/dashboard/static"):
        response.headers.setdefault("Cache-Control", "no-store")
    new_cookie = g.get("new_csrf_cookie")
    if new_cookie:
        response.set_cookie(
            CSRF_COOKIE,
            new_cookie,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Lax",
            secure=_secure(),
        )
    who = signed_in()
    now = request_now()
    if who is not None and touch_is_due(who, now):
        with runtime().transaction() as session:
            touch(session, who, now=now)
    return response


def address() -> str:
    """Return the client's address (X-Forwarded-For only from `TRUSTED_PROXIES`)."""
    return client_address(
        request.remote_addr,
        request.headers.get("X-Forwarded-For"),
        runtime().settings.trusted_proxies,
    )


def _secure() -> bool:
    base = runtime().settings.public_base_url or ""
    return base.startswith("https://")


def sign_in_required(view: F) -> F:
    """Send a signed-out request to the login page (302), or 401 for polled JSON."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if signed_in() is None:
            if request.path.endswith(".json"):
                raise PageError(401, "invalid_credentials", "sign in again: the session ended")
            return redirect(url_for("dashboard.login"), 302)
        return view(*args, **kwargs)

    return cast("F", guarded)


def operators_only(view: F) -> F:
    """Let only API-key sessions (admins and viewers) reach an operator page."""

    @wraps(view)
    @sign_in_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        who = signed_in()
        if who is None or not who.is_admin:
            raise PageError(
                403, "forbidden", "Operator pages need an admin key; you signed in as an owner."
            )
        return view(*args, **kwargs)

    return cast("F", guarded)


def action(view: F) -> F:
    """A POST that changes something: CSRF first, then signed in, then not read-only."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_csrf()
        who = signed_in()
        if who is None:
            return redirect(url_for("dashboard.login"), 302)
        if not who.can_act:
            raise PageError(
                403,
                "forbidden",
                "You signed in with a read-only key (role viewer): you can see every page,"
                " and change nothing. Nothing was changed.",
                title="Read-only key",
            )
        return view(*args, **kwargs)

    return cast("F", guarded)


def template_globals() -> dict[str, Any]:
    """Return what every template may use: who is signed in, the CSRF token."""
    return {
        "signed_in": signed_in(),
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "has_endpoint": lambda name: name in current_app.view_functions,
    }
