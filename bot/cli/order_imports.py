"""`imports start --restaurant ID [--days N]`, `imports follow JOB_ID`: import a restaurant's
POS order history and watch it, with a progress bar on a terminal.

Following reads the job row every half second. Ctrl-C stops following only: the import
goes on in the worker, and the command says how to look again.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import click
from flask.cli import with_appcontext

from bot.cli.common import Group, WholeNumber, fail
from bot.context import runtime
from imports.requests import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS
from imports.starting import ImportRunning, UnknownRestaurant, launch_import
from store.job_kinds import IMPORT_ORDERS
from store.jobs import get_job
from store.models import Job
from store.timeutil import utcnow

POLL_S = 0.5
BAR_WIDTH = 30
FINAL = ("succeeded", "failed", "dead")


@click.group("imports", cls=Group)
def order_imports() -> None:
    """Import restaurants' POS order history (what sells, and when)."""


@order_imports.command("start")
@with_appcontext
@click.option("--restaurant", "restaurant_id", required=True, help="The restaurant's id.")
@click.option(
    "--days",
    type=WholeNumber(MIN_DAYS, MAX_DAYS),
    default=DEFAULT_DAYS,
    show_default=True,
    help="How many days back from now (× 24 hours).",
)
def start_command(restaurant_id: str, days: int) -> None:
    """Start importing a restaurant's order history and follow it until it ends."""
    current = runtime()
    try:
        launched = launch_import(current, restaurant_id, days, now=utcnow())
    except UnknownRestaurant:
        fail(f"no restaurant with id {restaurant_id!r}")
        return
    except ImportRunning as running:
        click.echo(f"an import of {restaurant_id} is already running: following it", err=True)
        follow(running.job_id)
        return
    click.echo(f"import of {days} day(s) for {restaurant_id} started: job {launched.job_id}")
    if not launched.enqueued:
        click.echo(
            "the broker is not reachable from here (REDIS_URL): the scheduler hands the job"
            " to a worker within about 15 s",
            err=True,
        )
    follow(launched.job_id)


@order_imports.command("follow")
@with_appcontext
@click.argument("job_id")
def follow_command(job_id: str) -> None:
    """Follow import JOB_ID until it ends."""
    follow(job_id)


def pause(seconds: float) -> None:
    """Wait between two looks at the job (tests replace it)."""
    time.sleep(seconds)


def follow(job_id: str, out: TextIO | None = None) -> None:
    """Show the job's progress until it ends; exit 1 if it did not succeed, 130 on Ctrl-C."""
    stream = out or sys.stdout
    bar = ProgressBar(stream, tty=stream.isatty())
    try:
        while True:
            with runtime().read_transaction() as session:
                job = get_job(session, job_id)
            if job is None or job.actor != IMPORT_ORDERS.actor:
                fail(f"no import job {job_id}")
                return
            bar.show(job)
            if job.status in FINAL:
                break
            pause(POLL_S)
    except KeyboardInterrupt:
        bar.close()
        click.echo(
            f"stopped following; the import goes on as job {job_id}. Look again with\n"
            f"  flask --app bot imports follow {job_id}\n"
            f"  or GET /api/jobs/{job_id}",
            err=True,
        )
        raise SystemExit(130) from None
    bar.close()
    if job.status != "succeeded":
        fail(f"import {job.status}: {job.error or 'no error recorded'} (job {job_id})")
    result = job.result or {}
    click.echo(
        f"imported {result.get('orders', job.progress_done):,} orders"
        f" ({result.get('days', '?')} days, {result.get('pages', '?')} pages), job {job_id}"
    )


class ProgressBar:
    """A bar redrawn in place on a terminal; one plain line per change elsewhere."""

    def __init__(self, stream: TextIO, *, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self._last = ""
        self._drawn = False

    def show(self, job: Job) -> None:
        """Draw the job's progress (only when it changed)."""
        line = describe(job)
        if line == self._last:
            return
        self._last = line
        if self.tty:
            self.stream.write(f"\r{bar(job)} {line}\x1b[K")
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def describe(job: Job) -> str:
    """Return one line of the job's progress: `1,200/2,700 orders (44%) day 3/30, page 2`."""
    if job.status == "queued" and not job.progress_done:
        return "waiting for a worker…"
    done, total = job.progress_done, max(job.progress_total, job.progress_done)
    percent = f" ({100 * done // total}%)" if total else ""
    step = f" {job.progress_step}" if job.progress_step else ""
    state = "" if job.status in ("running", "succeeded") else f" [{job.status}]"
    return f"{done:,}/{total:,} orders{percent}{step}{state}" if total else f"starting{state}"


def bar(job: Job) -> str:
    """Return the bar itself: `[#########.....................]`."""
    total = max(job.progress_total, job.progress_done)
    filled = (
        BAR_WIDTH if job.status == "succeeded" else BAR_WIDTH * job.progress_done // (total or 1)
    )
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"
