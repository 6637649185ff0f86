"""Insight batches for admins (SPEC §12): list, seal now, analyze.

`GET /api/admin/batches?status=&restaurantId=` lists them newest first (an open batch's
`events` is what waits now). `POST /api/admin/batches/seal?restaurantId=` seals what waits
— every restaurant's without `restaurantId` — and enqueues the analyses; `POST
/api/admin/batches/<id>/analyze` sends one more analysis job (`409` on an open batch; on
an analyzed one it runs and changes nothing). Both actions need a key that may act.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bot.context import runtime
from bot.errors import ApiError
from insights import batches
from insights.models import BATCH_STATES, OPEN
from operations import audit
from store.models import Restaurant
from store.restaurants import RESTAURANT_ID
from usage_api.auth import require_admin, require_can_act
from usage_api.clock import request_now
from usage_api.pagination import page_request

bp = Blueprint("batches", __name__, url_prefix="/api/admin/batches")

MAX_ID = 2**63 - 1
# What the audit log calls these actions (SPEC §14).
SEAL = "batches.seal"
ANALYZE = "batches.analyze"


@bp.get("")
def list_batches() -> ResponseReturnValue:
    """Answer with a page of batches, newest first, filtered by status and restaurant."""
    require_admin()
    page = page_request(request.args)
    status = request.args.get("status")
    if status is not None and status not in BATCH_STATES:
        raise ApiError(400, "invalid_parameter", f"status must be one of {', '.join(BATCH_STATES)}")
    restaurant_id = request.args.get("restaurantId") or None
    if restaurant_id is not None and "\x00" in restaurant_id:
        raise ApiError(400, "invalid_parameter", "restaurantId must not contain NUL characters")
    current = runtime()
    if status in (None, OPEN):
        # Restaurants whose events wait get their open batch's row (with its id) first.
        with current.transaction() as session:
            batches.ensure_open(session, restaurant_id)
    with current.read_transaction() as session:
        filters = batches.BatchFilters(status=status, restaurant_id=restaurant_id)
        total, items = batches.batch_page(session, filters, limit=page.limit, offset=page.offset)
    return jsonify({"data": items, "pagination": page.pagination(total)})


@bp.post("/seal")
def seal() -> ResponseReturnValue:
    """Seal what waits now (one restaurant's, or every one's) and enqueue the analyses."""
    principal = require_admin()
    require_can_act(principal)
    current = runtime()
    restaurant_id = request.args.get("restaurantId")
    if restaurant_id is not None:
        exists = None
        if RESTAURANT_ID.fullmatch(restaurant_id):
            with current.read_transaction() as session:
                exists = session.scalar(select(Restaurant.id).where(Restaurant.id == restaurant_id))
        if exists is None:
            raise ApiError(404, "not_found", f"no restaurant with id {restaurant_id!r}")
    sealed = batches.seal_now(current.sessions, current.broker, request_now(), restaurant_id)
    with current.transaction() as session:
        audit.record(
            session,
            key_prefix=principal.prefix,
            action=SEAL,
            filter={"restaurantId": restaurant_id} if restaurant_id else {},
            ids=[str(batch_id) for batch_id in sealed],
            count=len(sealed),
        )
    return jsonify({"sealed": sealed})


@bp.post("/<int:batch_id>/analyze")
def analyze(batch_id: int) -> ResponseReturnValue:
    """Send an analysis job for a sealed or analyzed batch."""
    principal = require_admin()
    require_can_act(principal)
    if batch_id > MAX_ID:
        raise ApiError(404, "not_found", f"no batch {batch_id}")
    current = runtime()
    try:
        with current.transaction() as session:
            job = batches.request_analysis(session, batch_id)
            audit.record(
                session, key_prefix=principal.prefix, action=ANALYZE, ids=[str(batch_id)], count=1
            )
    except batches.BatchNotFound:
        raise ApiError(404, "not_found", f"no batch {batch_id}") from None
    except batches.BatchStillOpen:
        raise ApiError(
            409, "conflict", f"batch {batch_id} is open: seal it first (POST …/batches/seal)"
        ) from None
    batches.enqueue_jobs(current.sessions, current.broker, job)
    return jsonify({"jobId": job.id}), 202
