"""The owner's Alerts page (SPEC §14–15): rules, channels, "send a test", the delivery log.

Every read and change goes through the functions of `GET /api/alerts`, `PUT
/api/alerts/rules`, `POST`/`DELETE /api/alerts/channels`, `POST /api/alerts/test` and
`GET /api/notifications` (`alerts.rules`, `alerts.channels`, `alerts.events`), with their
validation: refused input is the page again, `400`, with the API's message and what was
typed. Only the owner acts; an operator sees the page without its forms.

A new webhook channel's secret is shown once: the action keeps it, encrypted with
`SECRETS_KEY`, under the session in Redis for ten minutes, and the page it redirects to
takes it (`GETDEL`) — never in a URL, a log or a second page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from alerts import events
from alerts.channels import TooManyChannels, create_channel, delete_channel, delivery_page
from alerts.channels import list_channels as channels_of
from alerts.firings import firings_in
from alerts.rules import MAX_RULES, METRICS, PACE, InvalidAlertInput, parse_rules, rules_of
from alerts.rules import save_rules as store_rules
from alerts.secrets import SecretsUnavailable
from bot import jobs
from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.errors import PageError
from dashboard.filters import page_number
from dashboard.owner_alerts_words import (
    CHANNEL_WORDS,
    STATUS_WORDS,
    Figures,
    RuleRow,
    delivery_rows,
    describe,
    rule_rows,
    rule_rows_from_form,
)
from dashboard.owner_views import OWNER_PAGES, require_restaurant
from dashboard.security import action, sign_in_required, signed_in
from store.models import Job
from store.restaurants import RESTAURANT_ID, timezones_of
from store.timeutil import local_date
from store.usage import restaurant_usage
from usage_api.clock import request_now

PAGE_SIZE = 20
# How long a new webhook secret waits for the page that shows it.
SECRET_SHOWN_WITHIN_S = 600
_CHANNEL_ID = re.compile(r"^ch_[0-9a-f]{1,37}$")
_RULE_ERROR = re.compile(r"^rules\[(\d+)\](?:\.\w+)?: (.*)$")


@bp.get("/r/<restaurant_id>/alerts")
@sign_in_required
def owner_alerts(restaurant_id: str) -> ResponseReturnValue:
    """Show the rules, the channels, and the delivery log of the restaurant."""
    require_restaurant(restaurant_id)
    created = request.args.get("created", "")
    new_secret = _take_new_secret(created) if _CHANNEL_ID.fullmatch(created) else None
    return _page(
        restaurant_id,
        page=page_number(request.args),
        notice=_notice(request.args),
        new_secret=new_secret,
    )


@bp.post("/r/<restaurant_id>/alerts/rules")
@action
def owner_alerts_rules(restaurant_id: str) -> ResponseReturnValue:
    """Replace the rules with the form's (the whole list, as `PUT /api/alerts/rules`)."""
    _require_owner(restaurant_id)
    rows = rule_rows_from_form(request.form, MAX_RULES)
    try:
        rules = parse_rules({"rules": [row.as_input() for row in rows]})
    except InvalidAlertInput as error:
        return _refused_rules(restaurant_id, rows, str(error))
    current = runtime()
    with current.transaction() as session:
        store_rules(session, restaurant_id, rules, request_now())
    # This process sees the new rules at once; the others within the tenant cache's 5 s.
    current.tenants.forget()
    return _back(restaurant_id, done="rules")


@bp.post("/r/<restaurant_id>/alerts/channels")
@action
def owner_alerts_add_channel(restaurant_id: str) -> ResponseReturnValue:
    """Add a channel; a webhook's secret waits for the next page, encrypted, in Redis."""
    who = _require_owner(restaurant_id)
    kind = request.form.get("type", "")
    target = request.form.get("target", "")
    current = runtime()
    try:
        with current.transaction() as session:
            created = create_channel(
                session,
                restaurant_id,
                {"type": kind, "target": target},
                secrets=current.secret_box,
                allow_private=current.settings.alert_webhook_allow_private,
                now=request_now(),
            )
            channel_id = created.channel.id
            if created.secret is not None:
                # Before commit: if Redis cannot keep it, no channel exists without its secret.
                _keep_new_secret(who.session_id, channel_id, created.secret)
    except InvalidAlertInput as error:
        return _refused_channel(restaurant_id, kind, target, 400, str(error))
    except TooManyChannels as error:
        return _refused_channel(restaurant_id, kind, target, 409, str(error))
    except SecretsUnavailable as error:
        return _refused_channel(restaurant_id, kind, target, 503, str(error))
    return _back(restaurant_id, created=channel_id)


@bp.post("/r/<restaurant_id>/alerts/channels/<channel_id>/delete")
@action
def owner_alerts_delete_channel(restaurant_id: str, channel_id: str) -> ResponseReturnValue:
    """Delete one channel (its pending deliveries then fail)."""
    _require_owner(restaurant_id)
    with runtime().transaction() as session:
        if len(channel_id) > 40 or not delete_channel(session, restaurant_id, channel_id):
            raise PageError(
                404,
                "not_found",
                "There is no such channel: it may have been deleted already. Nothing was changed.",
                next_step=(_address(restaurant_id), "Back to the alerts"),
            )
    return _back(restaurant_id, done="deleted")


@bp.post("/r/<restaurant_id>/alerts/test")
@action
def owner_alerts_test(restaurant_id: str) -> ResponseReturnValue:
    """Send a `test` event to every channel, as `POST /api/alerts/test` does."""
    _require_owner(restaurant_id)
    current = runtime()
    with current.transaction() as session:
        _, new_jobs = events.emit_test(session, restaurant_id, request_now())
    _hand_over(new_jobs)
    return _back(restaurant_id, sent=len(new_jobs))


def _require_owner(restaurant_id: str) -> Any:
    """Let only this restaurant's owner change its alerts (an operator reads them)."""
    require_restaurant(restaurant_id)
    who = signed_in()
    assert who is not None
    if who.is_admin:
        raise PageError(
            403,
            "forbidden",
            "Operators see a restaurant's alerts read-only: only its owner, signed in with"
            " the restaurant's token, can change them. Nothing was changed.",
            next_step=(_address(restaurant_id), "Back to the alerts"),
        )
    return who


def _hand_over(new_jobs: list[Job]) -> None:
    # After commit; what fails here the relay enqueues within seconds.
    current = runtime()
    enqueued = jobs.enqueue(current.broker, new_jobs)
    with current.autocommit() as connection:
        jobs.mark_enqueued(connection, enqueued)


def _page(
    restaurant_id: str,
    *,
    status: int = 200,
    page: int = 1,
    notice: dict[str, Any] | None = None,
    new_secret: dict[str, str] | None = None,
    rules_form: list[RuleRow] | None = None,
    rules_error: dict[str, Any] | None = None,
    channel_error: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    current = runtime()
    now = request_now()
    usage = None
    with current.read_transaction() as session:
        if RESTAURANT_ID.fullmatch(restaurant_id):
            usage = restaurant_usage(session, current.settings, restaurant_id, now=now)
        if usage is None:
            raise PageError(404, "not_found", "There is no such restaurant page.")
        zone = timezones_of(session, [restaurant_id]).get(restaurant_id, "UTC")
        stored = rules_of(session, restaurant_id)
        channels = channels_of(session, restaurant_id)
        today = local_date(now, zone)
        fired = firings_in(session, restaurant_id, (today.isoformat(), f"{today:%Y-%m}"))
        total, deliveries = delivery_page(
            session, restaurant_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    who = signed_in()
    allowance = usage.allowance
    figures = Figures(
        daily_limit=allowance.daily_limit,
        daily_used=allowance.daily_limit - allowance.daily_remaining,
        monthly_limit=allowance.monthly_limit,
        monthly_used=usage.conversations_this_month,
        fired=fired,
    )
    rows = rules_form if rules_form is not None else rule_rows(stored)
    answer = render_template(
        "owner/alerts.html",
        restaurant=usage,
        restaurant_id=restaurant_id,
        zone=zone,
        owner_pages=OWNER_PAGES,
        can_act=who is not None and not who.is_admin,
        rules=[describe(row, figures) for row in rows],
        channel_words=CHANNEL_WORDS,
        status_words=STATUS_WORDS,
        addable=[m for m in METRICS if m != PACE],
        max_rules=MAX_RULES,
        channels=channels,
        deliveries=delivery_rows(deliveries, channels),
        total=total,
        page_number=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        notice=_notice_text(notice, channels),
        new_secret=new_secret,
        rules_error=rules_error,
        channel_error=channel_error,
    )
    return answer, status


def _refused_rules(restaurant_id: str, rows: list[RuleRow], message: str) -> ResponseReturnValue:
    match = _RULE_ERROR.match(message)
    row = int(match.group(1)) if match else None
    text = match.group(2) if match else message
    return _page(
        restaurant_id,
        status=400,
        rules_form=rows,
        rules_error={"row": row, "message": text},
    )


def _refused_channel(
    restaurant_id: str, kind: str, target: str, status: int, message: str
) -> ResponseReturnValue:
    text = message.removeprefix("target: ")
    return _page(
        restaurant_id,
        status=status,
        channel_error={"type": kind, "target": target[:2048], "message": text},
    )


def _secret_key(session_id: int) -> str:
    return runtime().keys("dashboard", "new-secret", session_id)


def _keep_new_secret(session_id: int, channel_id: str, secret: str) -> None:
    current = runtime()
    sealed = current.secret_box.encrypt(json.dumps({"channel": channel_id, "secret": secret}))
    current.redis.set(_secret_key(session_id), sealed, ex=SECRET_SHOWN_WITHIN_S)


def _take_new_secret(channel_id: str) -> dict[str, str] | None:
    """Return the new channel's secret once (it is deleted as it is read), or None."""
    who = signed_in()
    if who is None or who.is_admin:
        return None
    current = runtime()
    sealed = current.redis.getdel(_secret_key(who.session_id))
    if not sealed:
        return None
    try:
        kept = json.loads(current.secret_box.decrypt(_text(sealed)))
    except (SecretsUnavailable, ValueError):
        return None
    if kept.get("channel") != channel_id:
        return None
    return {"channel": channel_id, "secret": str(kept["secret"])}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _address(restaurant_id: str) -> str:
    return url_for("dashboard.owner_alerts", restaurant_id=restaurant_id)


def _back(restaurant_id: str, **outcome: Any) -> Response:
    return redirect(url_for("dashboard.owner_alerts", restaurant_id=restaurant_id, **outcome), 302)


def _notice(args: Mapping[str, str]) -> dict[str, Any] | None:
    """Return what the last action did (from its redirect's arguments), or None."""
    done, sent, created = args.get("done"), args.get("sent", ""), args.get("created", "")
    if done in ("rules", "deleted"):
        return {"action": done}
    if sent.isascii() and sent.isdigit() and len(sent) < 4:
        return {"action": "sent", "count": int(sent)}
    if _CHANNEL_ID.fullmatch(created):
        return {"action": "created", "channel": created}
    return None


def _notice_text(notice: dict[str, Any] | None, channels: list[Any]) -> dict[str, Any] | None:
    if notice is None or notice["action"] != "created":
        return notice
    found = next((c for c in channels if c.id == notice["channel"]), None)
    return None if found is None else {"action": "created", "channel": found}
