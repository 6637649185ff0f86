"""Insight batches for admins (SPEC §12): list, seal now, analyze.

`GET /api/admin/batches?status=&restaurantId=` lists them newest first (an open batch's
`events` is what waits now). `POST /api/admin/batches/seal?restaurantId=` seals what waits
— every restaurant's without `restaurantId` — and enqueues the analyses; `POST
/api/admin/batches/<id>/analyze` sends one more analysis job (`409` on an open batch; on
an analyzed one it runs and changes nothing). Both actions need a key that may act; they
are `insights.batch_operations`' (audited), as the dashboard's Batches page's are.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bot.context import runtime
from bot.errors import ApiError
from insights import batch_operations, batches
from insights.batch_reads import BatchFilters
from insights.models import BATCH_STATES
from usage_api.auth import require_admin, require_can_act
from usage_api.clock import request_now
from usage_api.pagination import page_request

bp = Blueprint("batches", __name__, url_prefix="/api/admin/batches")


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
    filters = BatchFilters(status=status, restaurant_id=restaurant_id)
    total, items = batch_operations.list_batches(
        runtime(), filters, limit=page.limit, offset=page.offset
    )
    return jsonify({"data": items, "pagination": page.pagination(total)})


@bp.post("/seal")
def seal() -> ResponseReturnValue:
    """Seal what waits now (one restaurant's, or every one's) and enqueue the analyses."""
    principal = require_admin()
    require_can_act(principal)
    restaurant_id = request.args.get("restaurantId")
    try:
        sealed = batch_operations.seal_waiting(
            runtime(), request_now(), restaurant_id=restaurant_id, by=principal.prefix
        )
    except batch_operations.UnknownRestaurant:
        raise ApiError(404, "not_found", f"no restaurant with id {restaurant_id!r}") from None
    return jsonify({"sealed": sealed})


@bp.post("/<int:batch_id>/analyze")
def analyze(batch_id: int) -> ResponseReturnValue:
    """Send an analysis job for a sealed or analyzed batch."""
    principal = require_admin()
    require_can_act(principal)
    try:
        sent = batch_operations.send_analysis(runtime(), batch_id, by=principal.prefix)
    except batches.BatchNotFound:
        raise ApiError(404, "not_found", f"no batch {batch_id}") from None
    except batches.BatchStillOpen:
        raise ApiError(
            409, "conflict", f"batch {batch_id} is open: seal it first (POST …/batches/seal)"
        ) from None
    return jsonify({"jobId": sent.job_id}), 202
