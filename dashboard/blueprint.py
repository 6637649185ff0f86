"""The dashboard's one blueprint: pages under `/dashboard/`, its templates and static files.

Every request first learns who is signed in (`security.load_signed_in`); every answer gets
the security headers (`security.finish_response`); errors are pages (`errors`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from dashboard import errors, security

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
)


@bp.before_request
def _who_is_signed_in() -> None:
    if request.endpoint != "dashboard.static":
        security.load_signed_in()


@bp.after_request
def _finish(response: Any) -> Any:
    return security.finish_response(response)


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return security.template_globals()


errors.register(bp)
