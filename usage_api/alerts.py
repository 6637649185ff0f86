"""Alert rules, channels, test sends and the delivery log (SPEC §15).

PAT for its own restaurant (with `X-Restaurant-Id`), or an API key naming the restaurant
with `?restaurantId=`. Changes (`PUT`, `POST`, `DELETE`) also pass `require_can_act`
(read-only keys may only look).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from alerts import events
from alerts.channels import (
    TooManyChannels,
    channel_json,
    create_channel,
    delete_channel,
    delivery_page,
    list_channels,
)
from alerts.rules import InvalidAlertInput, parse_rules, rules_of, save_rules
from alerts.secrets import SecretsUnavailable
from bot import jobs
from bot.context import runtime
from bot.errors import ApiError
from store.models import Job, Restaurant
from store.restaurants import RESTAURANT_ID
from usage_api.auth import Principal, forbidden, require_can_act, require_owner_or_admin
from usage_api.clock import request_now
from usage_api.pagination import page_request

bp = Blueprint("alerts", __name__, url_prefix="/api")


def _restaurant(session: Session, principal: Principal) -> str:
    """Return the restaurant the request is about: the PAT's (which `?restaurantId=` may
    name, and no other), or the one an API key names with `?restaurantId=`."""
    named = request.args.get("restaurantId")
    if principal.restaurant_id is not None:
        if named is not None and named != principal.restaurant_id:
            raise forbidden("this token does not give access to that restaurant")
        return principal.restaurant_id
    if not named:
        raise ApiError(400, "missing_restaurant_id", "an API key must name ?restaurantId=")
    if not RESTAURANT_ID.fullmatch(named) or session.get(Restaurant, named) is None:
        raise ApiError(404, "not_found", f"no restaurant with id {named!r}")
    return named


def _body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "invalid_parameter", "expected a JSON body")
    return body


def _invalid(error: InvalidAlertInput) -> ApiError:
    return ApiError(400, "invalid_parameter", str(error))


def _hand_over(new_jobs: list[Job]) -> None:
    # After commit; what fails here the relay enqueues within seconds.
    current = runtime()
    enqueued = jobs.enqueue(current.broker, new_jobs)
    with current.autocommit() as connection:
        jobs.mark_enqueued(connection, enqueued)


@bp.get("/alerts")
def show_alerts() -> ResponseReturnValue:
    """Answer with the restaurant's rules and channels."""
    with runtime().read_transaction() as session:
        restaurant_id = _restaurant(session, require_owner_or_admin(session))
        rules = rules_of(session, restaurant_id)
        channels = list_channels(session, restaurant_id)
    return jsonify(
        {
            "rules": [rule.to_json() for rule in rules],
            "channels": [channel_json(channel) for channel in channels],
        }
    )


@bp.put("/alerts/rules")
def replace_rules() -> ResponseReturnValue:
    """Replace the restaurant's rules with the whole list sent; answer with it."""
    with runtime().transaction() as session:
        principal = require_owner_or_admin(session)
        require_can_act(principal)
        restaurant_id = _restaurant(session, principal)
        try:
            rules = parse_rules(_body())
        except InvalidAlertInput as error:
            raise _invalid(error) from None
        stored = save_rules(session, restaurant_id, rules, request_now())
    # This process sees the new rules at once; the others within the tenant cache's 5 s.
    runtime().tenants.forget()
    return jsonify({"rules": [rule.to_json() for rule in stored]})


@bp.post("/alerts/channels")
def add_channel() -> ResponseReturnValue:
    """Add a channel; a webhook's signing secret is in this answer only."""
    current = runtime()
    with current.transaction() as session:
        principal = require_owner_or_admin(session)
        require_can_act(principal)
        restaurant_id = _restaurant(session, principal)
        try:
            created = create_channel(
                session,
                restaurant_id,
                _body(),
                secrets=current.secret_box,
                allow_private=current.settings.alert_webhook_allow_private,
                now=request_now(),
            )
        except InvalidAlertInput as error:
            raise _invalid(error) from None
        except TooManyChannels as error:
            raise ApiError(409, "conflict", str(error)) from None
        except SecretsUnavailable as error:
            raise ApiError(503, "unavailable", str(error)) from None
        answer = channel_json(created.channel)
    if created.secret is not None:
        answer["secret"] = created.secret
    return jsonify(answer), 201


@bp.delete("/alerts/channels/<channel_id>")
def remove_channel(channel_id: str) -> ResponseReturnValue:
    """Delete one of the restaurant's channels (its pending deliveries then fail)."""
    with runtime().transaction() as session:
        principal = require_owner_or_admin(session)
        require_can_act(principal)
        restaurant_id = _restaurant(session, principal)
        if len(channel_id) > 40 or not delete_channel(session, restaurant_id, channel_id):
            raise ApiError(404, "not_found", f"no channel with id {channel_id!r}")
    return "", 204


@bp.post("/alerts/test")
def send_test() -> ResponseReturnValue:
    """Send a `test` event to every channel of the restaurant."""
    with runtime().transaction() as session:
        principal = require_owner_or_admin(session)
        require_can_act(principal)
        restaurant_id = _restaurant(session, principal)
        event_id, new_jobs = events.emit_test(session, restaurant_id, request_now())
    _hand_over(new_jobs)
    return jsonify({"eventId": event_id}), 202


@bp.get("/notifications")
def list_notifications() -> ResponseReturnValue:
    """Answer with a page of the delivery log, newest first (an admin without
    `?restaurantId=` sees every restaurant's and the operator events')."""
    with runtime().read_transaction() as session:
        principal = require_owner_or_admin(session)
        restaurant_id = principal.restaurant_id
        if restaurant_id is not None or "restaurantId" in request.args:
            restaurant_id = _restaurant(session, principal)
        page = page_request(request.args)
        total, items = delivery_page(session, restaurant_id, limit=page.limit, offset=page.offset)
    return jsonify({"data": items, "pagination": page.pagination(total)})
