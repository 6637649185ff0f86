"""Jobs (SPEC §9): one job, a restaurant's recent jobs, every job with filters, job stats.

`GET /api/jobs/<id>` and `GET /api/jobs` take an admin key or a restaurant's PAT (same
headers and checks as the usage API); another restaurant's job is `404` to a PAT, as if
it did not exist. `GET /api/admin/jobs` and `GET /api/admin/jobs/stats` are for admins.
The lists take `status`, `actor` and a creation time window, `after` (inclusive) and
`before` (exclusive): ISO 8601 as the dead-letter filters take it, anything else `400`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from bot.context import runtime
from bot.errors import ApiError
from operations.dead_letter_index import FilterError, parse_time
from store.jobs import JOB_STATES, JobFilters, get_job, job_json, job_page, job_stats
from usage_api.auth import require_admin, require_owner_or_admin
from usage_api.clock import request_now
from usage_api.pagination import page_request

bp = Blueprint("jobs", __name__, url_prefix="/api")

# Job ids are Dramatiq message ids (UUIDs); longer ones are not looked up.
MAX_JOB_ID = 64


@bp.get("/jobs/<job_id>")
def job_detail(job_id: str) -> ResponseReturnValue:
    """Answer with one job: any job for an admin, its restaurant's jobs for a PAT."""
    with runtime().read_transaction() as session:
        principal = require_owner_or_admin(session)
        known_shape = len(job_id) <= MAX_JOB_ID and "\x00" not in job_id
        job = get_job(session, job_id) if known_shape else None
        if job is None or (not principal.is_admin and job.restaurant_id != principal.restaurant_id):
            raise ApiError(404, "not_found", f"no job with id {job_id!r}")
        return jsonify(job_json(job))


@bp.get("/jobs")
def list_jobs() -> ResponseReturnValue:
    """Answer with a page of recent jobs: the PAT's restaurant's, or every one for an admin."""
    with runtime().read_transaction() as session:
        principal = require_owner_or_admin(session)
        return _page_of_jobs(session, restaurant_id=principal.restaurant_id)


@bp.get("/admin/jobs")
def admin_jobs() -> ResponseReturnValue:
    """Answer an admin with a page of every job, filtered by status, restaurant, actor and
    creation time."""
    with runtime().read_transaction() as session:
        require_admin(session)
        return _page_of_jobs(session, restaurant_id=request.args.get("restaurant") or None)


@bp.get("/admin/jobs/stats")
def admin_job_stats() -> ResponseReturnValue:
    """Answer an admin with job counts by status and actor and the oldest queued job."""
    with runtime().read_transaction() as session:
        require_admin(session)
        return jsonify(job_stats(session, now=request_now()))


def _page_of_jobs(session: Session, *, restaurant_id: str | None) -> ResponseReturnValue:
    """Answer with the page of jobs the query asks for, of one restaurant or all (None)."""
    page = page_request(request.args)
    filters = _filters(request.args, restaurant_id=restaurant_id)
    total, jobs = job_page(session, filters, limit=page.limit, offset=page.offset)
    return jsonify({"data": [job_json(j) for j in jobs], "pagination": page.pagination(total)})


def _filters(args: Mapping[str, str], *, restaurant_id: str | None) -> JobFilters:
    status = args.get("status")
    if status is not None and status not in JOB_STATES:
        raise ApiError(400, "invalid_parameter", f"status must be one of {', '.join(JOB_STATES)}")
    actor = args.get("actor") or None
    for name, value in (("restaurant", restaurant_id), ("actor", actor)):
        # PostgreSQL cannot compare text with NUL; no restaurant or actor name has one.
        if value is not None and "\x00" in value:
            raise ApiError(400, "invalid_parameter", f"{name} must not contain NUL characters")
    return JobFilters(
        restaurant_id=restaurant_id,
        status=status,
        actor=actor,
        created_after=_time(args, "after"),
        created_before=_time(args, "before"),
    )


def _time(args: Mapping[str, str], name: str) -> dt.datetime | None:
    """Return a time filter (ISO 8601 with an offset, or a date: midnight UTC); None when
    absent or empty, as the dead-letter filters take it."""
    try:
        return parse_time(name, args.get(name) or None)
    except FilterError as error:
        raise ApiError(400, "invalid_parameter", str(error)) from None
