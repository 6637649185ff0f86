"""`GET /api/usage` (owner or admin) and `GET /api/usage/<restaurantId>` (admin), SPEC §8."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from alerts.forecast import usage_forecasts
from bot.context import runtime
from bot.errors import ApiError
from store import usage
from store.restaurants import RESTAURANT_ID
from store.timeutil import iso_z
from usage_api.auth import invalid_credentials, require_admin, require_owner_or_admin
from usage_api.clock import request_now
from usage_api.pagination import page_request

bp = Blueprint("usage", __name__, url_prefix="/api/usage")

# What `?include=` may add to a usage object (SPEC §15).
INCLUDES = ("forecast",)


@bp.get("")
def list_usage() -> ResponseReturnValue:
    """Answer an owner with its restaurant's usage, an admin with a page of every restaurant's."""
    current = runtime()
    with current.read_transaction() as session:
        principal = require_owner_or_admin(session)
        with_forecast = "forecast" in _includes()
        if principal.restaurant_id is not None:
            # limit/offset mean nothing here and are ignored, even when malformed.
            found = usage.restaurant_usage(
                session, current.settings, principal.restaurant_id, now=request_now()
            )
            if found is None:  # deleted since the token was checked; its tokens went with it
                raise invalid_credentials()
            [answer] = _answers(session, [found], with_forecast, request_now())
            return jsonify(answer)
        page = page_request(request.args)
        result = usage.usage_page(
            session, current.settings, limit=page.limit, offset=page.offset, now=request_now()
        )
        data = _answers(session, result.items, with_forecast, request_now())
    return jsonify({"data": data, "pagination": page.pagination(result.total)})


@bp.get("/<restaurant_id>")
def restaurant_detail(restaurant_id: str) -> ResponseReturnValue:
    """Answer an admin with one restaurant's usage and its last six months."""
    current = runtime()
    with current.read_transaction() as session:
        require_admin(session)
        with_forecast = "forecast" in _includes()
        # An id that no restaurant can have is not looked up (and cannot upset the driver).
        found = None
        if RESTAURANT_ID.fullmatch(restaurant_id):
            found = usage.usage_with_history(
                session, current.settings, restaurant_id, now=request_now()
            )
        if found is None:
            raise ApiError(404, "not_found", f"no restaurant with id {restaurant_id!r}")
        restaurant_usage, history = found
        [answer] = _answers(session, [restaurant_usage], with_forecast, request_now())
    return jsonify({**answer, "history": [month_json(m) for m in history]})


def _includes() -> set[str]:
    """Return what `?include=` asks for; anything but a known name is a 400."""
    raw = request.args.get("include")
    if raw is None:
        return set()
    if raw not in INCLUDES:
        raise ApiError(
            400, "invalid_parameter", f"include: expected {', '.join(INCLUDES)}, got {raw!r}"
        )
    return {raw}


def _answers(
    session: Session,
    items: Sequence[usage.RestaurantUsage],
    with_forecast: bool,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Return the usage objects, each with its `forecast` when asked (two statements more
    for the whole page: the restaurants' zones and their recent daily counters)."""
    answers = [usage_json(item) for item in items]
    if not with_forecast:
        return answers
    forecasts = usage_forecasts(session, items, now)
    for answer, item in zip(answers, items, strict=True):
        answer["forecast"] = forecasts[item.restaurant_id].forecast.to_json()
    return answers


def usage_json(item: usage.RestaurantUsage) -> dict[str, Any]:
    """Return the usage object of SPEC §8, keys in the spec's order."""
    allowance = item.allowance
    return {
        "restaurantId": item.restaurant_id,
        "restaurantName": item.restaurant_name,
        "conversationsThisMonth": item.conversations_this_month,
        "lastConversationAt": iso_z(item.last_conversation_at),
        "allowance": {
            "dailyLimit": allowance.daily_limit,
            "dailyRemaining": allowance.daily_remaining,
            "monthlyLimit": allowance.monthly_limit,
            "monthlyRemaining": allowance.monthly_remaining,
        },
        "firstActivity": iso_z(item.first_activity),
        "lastActivity": iso_z(item.last_activity),
        "isActive": item.is_active,
    }


def month_json(month: usage.MonthUsage) -> dict[str, Any]:
    """Return one entry of a restaurant's `history`."""
    return {
        "month": month.month,
        "year": month.year,
        "conversationCount": month.conversation_count,
        "lastConversationAt": iso_z(month.last_conversation_at),
    }
