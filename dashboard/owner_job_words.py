"""A restaurant's jobs in its owner's words: what each kind of job is, what its status
means, how an import is going or ended, and why a job failed.

The owner's Jobs page renders these and the JSON it polls carries the same (`words`), so
a reload and a live update say exactly the same thing.
"""

from __future__ import annotations

from typing import Any

from store.job_kinds import (
    ANALYZE_BATCH,
    DELIVER_MESSAGE,
    DELIVER_NOTIFICATION,
    IMPORT_ORDERS,
    SEND_DEFERRED_REPLIES,
    WELCOME_BOOTSTRAP,
)
from store.models import Job
from store.timeutil import zone

# (name, what it does) of each kind of job, as an owner would say it.
KINDS = {
    IMPORT_ORDERS.actor: ("Order history import", "your past orders, copied for Insights"),
    WELCOME_BOOTSTRAP.actor: ("Menu prefetch", "menu and branches loaded for a new customer"),
    DELIVER_MESSAGE.actor: ("Message resend", "a reply whose first send failed"),
    SEND_DEFERRED_REPLIES.actor: ("Delayed replies", "replies that waited for the menu"),
    DELIVER_NOTIFICATION.actor: ("Alert notification", "one of your alerts, sent to you"),
    ANALYZE_BATCH.actor: ("Conversation analysis", "what customers asked, for Insights"),
}

STATUSES = {
    "queued": "waiting",
    "running": "running",
    "partial": "retrying",
    "succeeded": "done",
    "failed": "failed",
    "dead": "failed",
}
FINAL = ("succeeded", "failed", "dead")
UNFINISHED = ("queued", "running", "partial")

# What an error text means, checked in this order: (words in the text, plain sentence).
_CAUSES = (
    (
        ("not configured", "sufrah_api_base", "leaves the api's origin"),
        "The connection to your ordering platform is not set up on this server"
        " (ask your operator).",
    ),
    (
        ("answered 429", "throttl"),
        "Your ordering platform asked us to slow down, too many times in a row.",
    ),
    (
        ("refused", "answered 4"),
        "Your ordering platform refused the request (check that your account there is active).",
    ),
    (
        ("catalogunavailable", "answered 5", "timed out", "request", "without a data list"),
        "Your ordering platform did not answer (it was down or too slow).",
    ),
    (("timelimitexceeded",), "It took longer than the 30 minutes a job may run."),
    (("stopped during the job",), "The worker running it stopped; it was started again."),
    (("unknown restaurant",), "This restaurant no longer exists on the server."),
)
_UNKNOWN_CAUSE = "Something went wrong on our side; it has been logged."


def kind_name(actor: str) -> str:
    """Return the owner's name of a kind of job (the actor's name for an unknown one)."""
    return KINDS.get(actor, (actor.replace("_", " ").capitalize(), ""))[0]


def kind_note(actor: str) -> str:
    """Return what a kind of job does, in a few words ("" when unknown)."""
    return KINDS.get(actor, ("", ""))[1]


def status_word(status: str) -> str:
    """Return a job status as the owner reads it ("done", "waiting", …)."""
    return STATUSES.get(status, status)


def plain_error(error: str | None) -> str:
    """Return what an error text means for an owner ("" for none)."""
    if not error:
        return ""
    text = error.lower()
    for words, sentence in _CAUSES:
        if any(word in text for word in words):
            return sentence
    return _UNKNOWN_CAUSE


def import_days(job: Job) -> int | None:
    """Return how many days an import job covers (from its result, else its request)."""
    for source in (job.result or {}, (job.payload or {}).get("kwargs") or {}):
        days = source.get("days")
        if isinstance(days, int) and not isinstance(days, bool):
            return days
    return None


def progress_text(job: Job) -> str:
    """Return "1,234 of about 2,300 orders · day 3/30, page 2" (or "" before any)."""
    done, total, step = job.progress_done, job.progress_total, job.progress_step
    is_import = job.actor == IMPORT_ORDERS.actor
    unit = " orders" if is_import else ""
    words = ""
    if total:
        # An import's total is an estimate until it has read every page (SPEC §13).
        about = "about " if is_import and done != total else ""
        words = f"{done or 0:,} of {about}{total:,}{unit}"
    if step and step != "done" and job.status in UNFINISHED:
        words += (" · " if words else "") + step
    return words


def import_summary(job: Job) -> str:
    """Return how an import is going, or how it ended, in one or two sentences."""
    days = import_days(job)
    period = f"the last {days:,} day{'' if days == 1 else 's'}" if days else "the period asked"
    stored = job.progress_done or 0
    if job.status == "succeeded":
        orders = (job.result or {}).get("orders", stored)
        return f"Imported {orders:,} order{'' if orders == 1 else 's'} from {period}."
    if job.status == "queued":
        return f"Waiting to start: importing {period} of orders."
    if job.status == "running":
        return f"Importing {period} of orders: {stored:,} so far."
    if job.status == "partial":
        return (
            f"Paused after a problem: {plain_error(job.error) or _UNKNOWN_CAUSE} It tries"
            f" again by itself and goes on where it stopped ({stored:,} orders so far)."
        )
    again = (
        f"The {stored:,} orders it stored are kept; you can try again."
        if stored
        else "You can try again."
    )
    return f"The import stopped. {plain_error(job.error) or _UNKNOWN_CAUSE} {again}"


def times_text(job: Job, timezone: str) -> str:
    """Return "Started 2026-12-06 18:41, finished 18:43 (Asia/Riyadh)." in that zone."""
    started = job.created_at.astimezone(zone(timezone))
    words = f"Started {started:%Y-%m-%d %H:%M}"
    if job.finished_at is not None and job.status in FINAL:
        finished = job.finished_at.astimezone(zone(timezone))
        same_day = finished.date() == started.date()
        words += (
            f", finished {finished:%H:%M}" if same_day else f", finished {finished:%Y-%m-%d %H:%M}"
        )
    return f"{words} ({timezone})."


def job_words(job: Job, timezone: str) -> dict[str, Any]:
    """Return what the page says about a job: status, progress, error and, for an import,
    its summary and times (in the restaurant's zone). The keys are the page's `data-word`
    places the script fills in."""
    words = {
        "status": status_word(job.status),
        "progress": progress_text(job),
        "error": plain_error(job.error) if job.status in ("failed", "dead", "partial") else "",
    }
    if job.actor == IMPORT_ORDERS.actor:
        words["summary"] = import_summary(job)
        words["times"] = times_text(job, timezone)
    return words
