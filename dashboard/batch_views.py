"""Batches (insights): by status with their events, "Seal now", "Analyze".

The list reads the same function as `GET /api/admin/batches`
(`insights.batch_operations.list_batches`); the actions are the API's own
(`seal_waiting`, `send_analysis`), audited the same way. The page polls
`batches.json` (same arguments) every 2 s while an analysis job on it is unfinished: the
jobs as the API shows them, and the batches, so a batch turns `analyzed` without a reload.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.errors import PageError
from dashboard.filters import form_text, page_number
from dashboard.security import action, operators_only, signed_in
from insights import batch_operations, batches
from insights.batch_reads import BatchFilters, StatusSummary, batch_summary
from insights.models import BATCH_STATES, OPEN, SEALED
from operations.overview import OLDEST_QUEUED_ALARM
from store.jobs import job_json, jobs_by_id
from store.models import Job
from store.restaurants import names_of
from usage_api.clock import request_now

PAGE_SIZE = 50
# Events still waiting this long after the seal age mean nothing seals them (scheduler down).
SEAL_LATE = dt.timedelta(minutes=5)
# The page's own arguments, kept when an action sends the operator back to it.
FILTER_KEYS = ("status", "restaurantId", "page")
_JOB_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@bp.get("/admin/batches")
@operators_only
def batch_list() -> ResponseReturnValue:
    """Show the counts per status and one page of batches, newest first, filtered."""
    filters = _filters(request.args)
    number = page_number(request.args)
    current = runtime()
    total, items = batch_operations.list_batches(
        current, filters, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
    )
    now = request_now()
    with current.read_transaction() as session:
        summary = batch_summary(session, filters.restaurant_id)
        named = {b["restaurantId"] for b in items} | {filters.restaurant_id or ""}
        names = names_of(session, sorted(named - {""}))
        jobs = _jobs_of(session, items)
    args = _args(filters, number)
    who = signed_in()
    return render_template(
        "admin/batches.html",
        batches=items,
        total=total,
        summary=summary,
        names=names,
        jobs=jobs,
        filters=filters,
        states=BATCH_STATES,
        args=args,
        back=urlencode(args),
        page_number=number,
        pages=max(1, -(-total // PAGE_SIZE)),
        notice=_notice(request.args),
        can_act=who is not None and who.can_act,
        settings=current.settings,
        now=now,
        late=_late(summary, now, current.settings.insight_batch_max_age_s),
    )


@bp.get("/admin/batches.json")
@operators_only
def batch_list_json() -> ResponseReturnValue:
    """Answer the page's batches and their analysis jobs as the API shows them (polled)."""
    filters = _filters(request.args)
    number = page_number(request.args)
    current = runtime()
    _, items = batch_operations.list_batches(
        current, filters, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
    )
    with current.read_transaction() as session:
        jobs = _jobs_of(session, items)
    return jsonify({"data": [job_json(job) for job in jobs.values()], "batches": items})


@bp.post("/admin/batches/seal")
@action
@operators_only
def batch_seal() -> ResponseReturnValue:
    """Seal what waits now — every restaurant's, or the filtered one's — and analyze it."""
    who = signed_in()
    assert who is not None
    restaurant_id = form_text(request.form, "restaurantId")
    try:
        sealed = batch_operations.seal_waiting(
            runtime(), request_now(), restaurant_id=restaurant_id, by=who.prefix
        )
    except batch_operations.UnknownRestaurant:
        raise PageError(
            404,
            "not_found",
            f"There is no restaurant with id {restaurant_id!r}. Nothing was sealed.",
        ) from None
    # Back to the same restaurant, every status: the batches just sealed are at the top.
    back = urlencode({"restaurantId": restaurant_id} if restaurant_id else {})
    return _back(back, done="seal", count=len(sealed))


@bp.post("/admin/batches/<int:batch_id>/analyze")
@action
@operators_only
def batch_analyze(batch_id: int) -> ResponseReturnValue:
    """Send one more analysis job for a sealed or analyzed batch."""
    who = signed_in()
    assert who is not None
    back = request.form.get("back", "")
    try:
        sent = batch_operations.send_analysis(runtime(), batch_id, by=who.prefix)
    except batches.BatchNotFound:
        raise PageError(
            404, "not_found", f"There is no batch {batch_id} (events and their batches expire)."
        ) from None
    except batches.BatchStillOpen:
        raise PageError(
            409,
            "conflict",
            f"Batch {batch_id} is open: it still takes new events, so it cannot be analyzed"
            " yet. Seal it first (“Seal now”); sealing sends its analysis. Nothing was done.",
            next_step=(url_for("dashboard.batch_list") + "?" + _keep(back), "Back to the batches"),
        ) from None
    return _back(back, done="analyze", batch=batch_id, job=sent.job_id, rerun=int(sent.rerun))


def _late(summary: dict[str, StatusSummary], now: dt.datetime, max_age_s: int) -> set[str]:
    """Return the statuses whose oldest batch waits too long: open past the scheduler's
    seal age (plus a margin), sealed as long as a queued job may wait on the Overview."""
    limits = {OPEN: dt.timedelta(seconds=max_age_s) + SEAL_LATE, SEALED: OLDEST_QUEUED_ALARM}
    return {
        status
        for status, limit in limits.items()
        if (oldest := summary[status].oldest) is not None and now - oldest > limit
    }


def _filters(args: Mapping[str, str]) -> BatchFilters:
    status = form_text(args, "status")
    if status is not None and status not in BATCH_STATES:
        raise PageError(
            400, "invalid_parameter", f"status must be one of {', '.join(BATCH_STATES)}"
        )
    return BatchFilters(status=status, restaurant_id=form_text(args, "restaurantId"))


def _jobs_of(session: Any, items: list[dict[str, Any]]) -> dict[str, Job]:
    """Return the analysis jobs of these batches by id (jobs past retention are gone)."""
    return jobs_by_id(session, {b["jobId"] for b in items if b["jobId"]})


def _args(filters: BatchFilters, number: int) -> dict[str, Any]:
    found: dict[str, Any] = {"status": filters.status, "restaurantId": filters.restaurant_id}
    if number > 1:
        found["page"] = number
    return {key: value for key, value in found.items() if value is not None}


def _keep(query: str) -> str:
    return urlencode([(k, v) for k, v in parse_qsl(query) if k in FILTER_KEYS])


def _back(query: str, **outcome: object) -> ResponseReturnValue:
    extra = urlencode([(key, str(value)) for key, value in outcome.items()])
    kept = _keep(query)
    target = url_for("dashboard.batch_list") + "?" + (f"{kept}&{extra}" if kept else extra)
    return redirect(target, 302)


def _notice(args: Mapping[str, str]) -> dict[str, Any] | None:
    """Return what the last action did (from its redirect's arguments), or None."""
    done, count = args.get("done"), args.get("count", "")
    if done == "seal" and count.isascii() and count.isdigit():
        return {"action": "seal", "count": int(count)}
    batch, job = args.get("batch", ""), args.get("job", "")
    if done == "analyze" and batch.isascii() and batch.isdigit() and _JOB_ID.fullmatch(job):
        rerun = args.get("rerun") == "1"
        return {"action": "analyze", "batch": int(batch), "job": job, "rerun": rerun}
    return None
