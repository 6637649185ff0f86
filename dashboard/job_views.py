"""Jobs: filter by status, actor, restaurant and time (or one job: `?job=<id>`, where other
pages link); progress refreshed while they run.

The page and the JSON it polls every 2 s (`jobs.json`, same arguments) read the same
page of the same function as the API (`store.jobs.job_page`).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import jsonify, render_template, request
from flask.typing import ResponseReturnValue

from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.errors import PageError
from dashboard.filters import form_text, form_time, form_time_text, page_number
from dashboard.security import operators_only
from store.jobs import JOB_STATES, JobFilters, job_json, job_page
from store.restaurants import timezones_of

PAGE_SIZE = 50
# Past this many matches the page says "10,000+" instead of counting them all.
COUNT_LIMIT = 10_000


@bp.get("/admin/jobs")
@operators_only
def job_list() -> ResponseReturnValue:
    """Show one page of jobs, newest first, filtered."""
    filters = _filters(request.args)
    number = page_number(request.args)
    with runtime().read_transaction() as session:
        total, jobs = job_page(
            session,
            filters,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
            count_limit=COUNT_LIMIT,
        )
        zones = timezones_of(session, sorted({j.restaurant_id for j in jobs if j.restaurant_id}))
    return render_template(
        "admin/jobs.html",
        jobs=jobs,
        total=total,
        capped=total > COUNT_LIMIT,
        count_limit=COUNT_LIMIT,
        filters=filters,
        states=JOB_STATES,
        page_number=number,
        pages=max(1, -(-min(total, COUNT_LIMIT) // PAGE_SIZE)),
        zones=zones,
        after=form_time_text(filters.created_after),
        before=form_time_text(filters.created_before),
        retention_days=runtime().settings.job_retention_days,
    )


@bp.get("/admin/jobs.json")
@operators_only
def job_list_json() -> ResponseReturnValue:
    """Answer the page's jobs as the API's job objects (what the page polls)."""
    filters = _filters(request.args)
    number = page_number(request.args)
    with runtime().read_transaction() as session:
        total, jobs = job_page(
            session,
            filters,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
            count_limit=COUNT_LIMIT,
        )
    return jsonify({"data": [job_json(job) for job in jobs], "total": total})


def _filters(args: Mapping[str, str]) -> JobFilters:
    status = form_text(args, "status")
    if status is not None and status not in JOB_STATES:
        raise PageError(400, "invalid_parameter", f"status must be one of {', '.join(JOB_STATES)}")
    return JobFilters(
        status=status,
        actor=form_text(args, "actor"),
        restaurant_id=form_text(args, "restaurant"),
        created_after=form_time(args, "after"),
        created_before=form_time(args, "before"),
        job_ids=(job,) if (job := form_text(args, "job")) else None,
    )
