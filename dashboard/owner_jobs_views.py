"""A restaurant's Jobs page (SPEC §13–14): its own jobs, newest first, with live
progress, and "Import order history" with the import's progress bar.

The list reads the same function as `GET /api/jobs` with the owner's PAT
(`store.jobs.job_page`, filtered by restaurant); the import starts through the same
function as `POST /api/imports` (`imports.starting.launch_import`), one at a time. The page
polls `jobs.json` (same `page`) every 2 s while a job on it is unfinished: the API's job
objects, and the page's words for them (`owner_job_words`).

Only the restaurant's owner starts an import; an operator sees the page read-only (a POST
from one is `403`), another restaurant is `404`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.errors import PageError
from dashboard.filters import page_number
from dashboard.owner_job_words import FINAL, job_words, kind_name, kind_note
from dashboard.owner_views import OWNER_PAGES, require_restaurant
from dashboard.security import action, sign_in_required, signed_in
from imports.requests import DEFAULT_DAYS, is_days
from imports.starting import ImportRunning, UnknownRestaurant, launch_import
from store.job_kinds import IMPORT_ORDERS
from store.jobs import JobFilters, job_json, job_page, latest_job
from store.models import Job, Restaurant
from store.restaurants import RESTAURANT_ID
from usage_api.clock import request_now

PAGE_SIZE = 20
# Past this many jobs the page says "10,000+" instead of counting them all.
COUNT_LIMIT = 10_000
# The periods the form offers (the API takes any number of days from 1 to 365).
DAY_CHOICES = (7, 30, 90, 180, 365)
_JOB_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@bp.get("/r/<restaurant_id>/jobs")
@sign_in_required
def owner_jobs(restaurant_id: str) -> ResponseReturnValue:
    """Show the restaurant's jobs, newest first, and its latest order-history import."""
    require_restaurant(restaurant_id)
    number = page_number(request.args)
    with runtime().read_transaction() as session:
        restaurant = _restaurant(session, restaurant_id)
        total, jobs, latest = _jobs(session, restaurant_id, number)
    timezone = restaurant.timezone or "UTC"
    who = signed_in()
    assert who is not None
    return render_template(
        "owner/jobs.html",
        restaurant=restaurant,
        zone=timezone,
        jobs=jobs,
        latest=latest,
        words={job.id: job_words(job, timezone) for job in [*jobs, *([latest] if latest else [])]},
        kind_name=kind_name,
        kind_note=kind_note,
        final=FINAL,
        total=total,
        capped=total > COUNT_LIMIT,
        count_limit=COUNT_LIMIT,
        page_number=number,
        pages=max(1, -(-min(total, COUNT_LIMIT) // PAGE_SIZE)),
        can_start=not who.is_admin,
        day_choices=DAY_CHOICES,
        default_days=DEFAULT_DAYS,
        notice=_notice(request.args),
        owner_pages=OWNER_PAGES,
        restaurant_id=restaurant_id,
        retention_days=runtime().settings.job_retention_days,
    )


@bp.get("/r/<restaurant_id>/jobs.json")
@sign_in_required
def owner_jobs_json(restaurant_id: str) -> ResponseReturnValue:
    """Answer the page's jobs as the API's job objects, with the page's words for each."""
    require_restaurant(restaurant_id)
    number = page_number(request.args)
    with runtime().read_transaction() as session:
        timezone = _restaurant(session, restaurant_id).timezone or "UTC"
        total, jobs, latest = _jobs(session, restaurant_id, number)
    shown = {job.id: job for job in jobs}
    if latest is not None:
        shown.setdefault(latest.id, latest)
    return jsonify(
        {
            "data": [job_json(job) for job in shown.values()],
            "total": total,
            "words": {job_id: job_words(job, timezone) for job_id, job in shown.items()},
        }
    )


@bp.post("/r/<restaurant_id>/jobs/import")
@action
def owner_import_start(restaurant_id: str) -> ResponseReturnValue:
    """Start importing the restaurant's order history (its owner only), then show it."""
    require_restaurant(restaurant_id)
    who = signed_in()
    assert who is not None
    if who.is_admin:
        raise PageError(
            403,
            "forbidden",
            "Operators see a restaurant's pages read-only: only its owner, signed in with"
            " the restaurant's token, starts an import. Nothing was started.",
            title="Read-only for operators",
        )
    days = _days(request.form)
    current = runtime()
    try:
        launched = launch_import(current, restaurant_id, days, now=request_now())
    except UnknownRestaurant:
        raise PageError(404, "not_found", "There is no such restaurant page.") from None
    except ImportRunning as running:
        return _back(restaurant_id, "running", running.job_id)
    return _back(restaurant_id, "started", launched.job_id)


def _restaurant(session: Session, restaurant_id: str) -> Restaurant:
    found = (
        session.get(Restaurant, restaurant_id) if RESTAURANT_ID.fullmatch(restaurant_id) else None
    )
    if found is None:
        raise PageError(404, "not_found", "There is no such restaurant page.")
    return found


def _jobs(session: Session, restaurant_id: str, number: int) -> tuple[int, list[Job], Job | None]:
    """Return the restaurant's job count, one page of its jobs and its latest import, read
    as `GET /api/jobs` reads them."""
    total, jobs = job_page(
        session,
        JobFilters(restaurant_id=restaurant_id),
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
        count_limit=COUNT_LIMIT,
    )
    latest = latest_job(session, JobFilters(restaurant_id=restaurant_id, actor=IMPORT_ORDERS.actor))
    return total, jobs, latest


def _days(form: Mapping[str, str]) -> int:
    raw = (form.get("days") or str(DEFAULT_DAYS)).strip()
    days = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else None
    if not is_days(days):
        raise PageError(400, "invalid_parameter", "Choose how many days to import: from 1 to 365.")
    assert days is not None
    return days


def _back(restaurant_id: str, outcome: str, job_id: str) -> ResponseReturnValue:
    """Send the owner back to the page, saying what happened (`started` or `running`)."""
    target = url_for("dashboard.owner_jobs", restaurant_id=restaurant_id)
    return redirect(f"{target}?{urlencode({outcome: job_id})}", 302)


def _notice(args: Mapping[str, str]) -> dict[str, Any] | None:
    """Return what the last start did (from its redirect's arguments), or None."""
    for outcome in ("started", "running"):
        job_id = args.get(outcome, "")
        if _JOB_ID.fullmatch(job_id):
            return {"outcome": outcome, "job": job_id}
    return None
