"""`GET /api/insights` (owner or admin): a restaurant's conversation insights (SPEC §12).

An owner's PAT reads its own restaurant (`X-Restaurant-Id` as §8; a `restaurantId` naming
another restaurant is `403`); an admin names the restaurant with `?restaurantId=`.
`from`/`to` are local dates (inclusive), the last 7 days by default, at most 366.
The answer is read from aggregates in a fixed number of statements.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bot.context import runtime
from bot.errors import ApiError
from insights.report import build_report, subject_of
from store.periods import PeriodError, parse_period
from store.restaurants import RESTAURANT_ID
from usage_api.auth import Principal, forbidden, require_owner_or_admin
from usage_api.clock import request_now

bp = Blueprint("insights", __name__, url_prefix="/api")


def restaurant_of(principal: Principal) -> str:
    """Return the restaurant a request is about: the PAT's own, or an admin's
    `?restaurantId=`.

    Raises:
      ApiError: 400 `missing_restaurant_id` for an admin without it; 403 for a PAT naming
        another restaurant.
    """
    named = request.args.get("restaurantId")
    if principal.restaurant_id is not None:
        if named is not None and named != principal.restaurant_id:
            raise forbidden("this token does not give access to that restaurant")
        return principal.restaurant_id
    if not named:
        raise ApiError(
            400, "missing_restaurant_id", "an admin key names the restaurant with ?restaurantId="
        )
    return named


@bp.get("/insights")
def insights() -> ResponseReturnValue:
    """Answer with the restaurant's insights over the requested local days."""
    current = runtime()
    now = request_now()
    with current.read_transaction() as session:
        principal = require_owner_or_admin(session)
        restaurant_id = restaurant_of(principal)
        # An id that no restaurant can have is not looked up (and cannot upset the driver).
        subject = (
            subject_of(session, restaurant_id) if RESTAURANT_ID.fullmatch(restaurant_id) else None
        )
        if subject is None:
            raise ApiError(404, "not_found", f"no restaurant with id {restaurant_id!r}")
        try:
            period = parse_period(
                request.args.get("from"), request.args.get("to"), now=now, timezone=subject.timezone
            )
        except PeriodError as error:
            raise ApiError(400, "invalid_parameter", str(error)) from None
        report = build_report(
            session,
            subject,
            period,
            now=now,
            menu=current.catalog_peek.categories(subject.merchant_id),
            summaries=current.insights_narrator,
        )
    return jsonify(report)
