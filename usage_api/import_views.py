"""`POST /api/imports` (SPEC §13): start importing a restaurant's POS order history.

An owner (PAT + `X-Restaurant-Id`) imports their restaurant; an admin names it with
`"restaurantId"` in the body or `?restaurantId=`. Body `{"days": 1..365}` (default 30).
`202 {"jobId"}` (follow it at `GET /api/jobs/<jobId>`), or `409 import_running` with the
unfinished import's `jobId` while one is queued or running for that restaurant.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bot.context import runtime
from bot.errors import ApiError
from imports.requests import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, is_days
from imports.starting import ImportRunning, UnknownRestaurant, launch_import
from usage_api.auth import Principal, forbidden, require_can_act, require_owner_or_admin
from usage_api.clock import request_now

bp = Blueprint("imports", __name__, url_prefix="/api")

_FIELDS = {"days", "restaurantId"}
MAX_RESTAURANT_ID = 64


@bp.post("/imports")
def start_order_import() -> ResponseReturnValue:
    """Start an order-history import; answer its job id."""
    principal = require_owner_or_admin()
    require_can_act(principal)  # who may act, before what they sent
    body = _body()
    restaurant_id = _restaurant(principal, body)
    days = body.get("days", DEFAULT_DAYS)
    if not is_days(days):
        raise ApiError(
            400,
            "invalid_parameter",
            f"days must be a whole number from {MIN_DAYS} to {MAX_DAYS}, got {days!r}"[:200],
        )
    current = runtime()
    try:
        launched = launch_import(current, restaurant_id, days, now=request_now())
    except UnknownRestaurant:
        raise ApiError(404, "not_found", f"no restaurant with id {restaurant_id!r}") from None
    except ImportRunning as running:
        raise ApiError(
            409,
            "import_running",
            f"an order import of restaurant {restaurant_id} is already queued or running:"
            f" job {running.job_id} (GET /api/jobs/{running.job_id})",
            extra={"jobId": running.job_id},
        ) from None
    answer = jsonify({"jobId": launched.job_id})
    answer.status_code = 202
    answer.headers["Location"] = f"/api/jobs/{launched.job_id}"
    return answer


def _body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_parameter", "the body must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise ApiError(400, "invalid_parameter", f"unknown field(s): {', '.join(unknown)}"[:200])
    return body


def _restaurant(principal: Principal, body: dict[str, Any]) -> str:
    """Return the restaurant to import: the PAT's own, or the one an admin names."""
    named = body.get("restaurantId", request.args.get("restaurantId"))
    if named is not None and (
        not isinstance(named, str) or not named or len(named) > MAX_RESTAURANT_ID or "\x00" in named
    ):
        raise ApiError(400, "invalid_parameter", "restaurantId must be a restaurant id")
    if not principal.is_admin:
        if named is not None and named != principal.restaurant_id:
            raise forbidden("this token does not give access to that restaurant")
        assert principal.restaurant_id is not None
        return principal.restaurant_id
    if named is None:
        raise ApiError(
            400,
            "missing_restaurant_id",
            'an admin key names the restaurant: {"restaurantId": …} or ?restaurantId=',
        )
    return named
