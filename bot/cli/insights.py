"""`flask --app bot insights show …` and `flask --app bot batches seal …` (SPEC §12).

`insights show` prints what `GET /api/insights` answers, as a summary readable in a
terminal (the same `insights.report.build_report`); `batches seal` seals what waits now
and enqueues the analyses, like `POST /api/admin/batches/seal` (audited as done by `cli`).
"""

from __future__ import annotations

import textwrap
from typing import Any

import click
from flask.cli import with_appcontext

from bot.cli.common import Group, fail
from bot.context import runtime
from insights import batch_operations
from insights.findings import WEEKDAYS
from insights.report import build_report, subject_of
from store.periods import PeriodError, parse_period
from store.timeutil import utcnow

WIDTH = 78
BAR = 30


@click.group("insights", cls=Group, help="Conversation insights of a restaurant.")
def insights() -> None:
    """Group the insights commands."""


@insights.command("show", help="Print a restaurant's insights over local days (default: 7).")
@click.option("--restaurant", "restaurant_id", required=True, help="The restaurant id.")
@click.option("--from", "first", default=None, help="First local day, YYYY-MM-DD.")
@click.option("--to", "last", default=None, help="Last local day, YYYY-MM-DD (default today).")
@with_appcontext
def show(restaurant_id: str, first: str | None, last: str | None) -> None:
    """Print the report."""
    current = runtime()
    now = utcnow()
    with current.read_transaction() as session:
        subject = subject_of(session, restaurant_id)
        if subject is None:
            fail(f"no restaurant with id {restaurant_id!r}")
            return
        try:
            period = parse_period(first, last, now=now, timezone=subject.timezone)
        except PeriodError as error:
            fail(str(error))
            return
        report = build_report(
            session,
            subject,
            period,
            now=now,
            menu=current.catalog_peek.categories(subject.merchant_id),
            summaries=current.insights_narrator,
        )
    click.echo(render(report))


@click.group("batches", cls=Group, help="Batches of conversation events (insights).")
def batches_group() -> None:
    """Group the batch commands."""


@batches_group.command("seal", help="Seal the waiting events now and enqueue their analysis.")
@click.option("--restaurant", "restaurant_id", default=None, help="Only this restaurant.")
@with_appcontext
def seal(restaurant_id: str | None) -> None:
    """Seal now; print the sealed batch ids."""
    try:
        sealed = batch_operations.seal_waiting(
            runtime(), utcnow(), restaurant_id=restaurant_id, by="cli"
        )
    except batch_operations.UnknownRestaurant:
        fail(f"no restaurant with id {restaurant_id!r}")
    if not sealed:
        click.echo("nothing waiting: no batch sealed")
        return
    click.echo(f"sealed {len(sealed)} batch(es), analysis enqueued: " + ", ".join(map(str, sealed)))


def render(report: dict[str, Any]) -> str:
    """Return the report as lines for a terminal."""
    period, totals = report["period"], report["totals"]
    lines = [
        f"Insights of {report['restaurantId']}: {period['from']} to {period['to']} "
        f"({period['timezone']})",
        f"Fresh as of: {report['freshAsOf'] or 'nothing analyzed yet'}",
        "",
        f"Conversations   {totals['conversations']:>6}   new {totals['newCustomers']}, "
        f"returning {totals['returningCustomers']}",
        f"Messages in     {totals['messagesIn']:>6}",
        f"Menu shown      {totals['menuShown']:>6}   category opens {totals['categoryOpens']}",
        f"Branches shown  {totals['branchesShown']:>6}   branch choices {totals['branchChoices']}",
        f"Opt-outs        {totals['optOuts']:>6}   delivery failures {totals['deliveryFailures']}",
        "",
        "Funnel (conversations that reached each step)",
    ]
    top = max([step["conversations"] for step in report["funnel"]] + [1])
    for step in report["funnel"]:
        bar = "#" * round(BAR * step["conversations"] / top)
        lines.append(f"  {step['step']:<9}{step['conversations']:>6}  {bar}")
    lines += ["", "Conversations started by weekday and hour (restaurant time)"]
    lines.append("       " + "".join(f"{hour:>3}" for hour in range(24)))
    for day, row in zip(WEEKDAYS, report["heatmap"], strict=True):
        lines.append(f"  {day[:3]}  " + "".join(f"{n:>3}" if n else "  ." for n in row))
    if report["categories"]:
        lines += ["", "Categories (opens)"]
        for category in report["categories"][:12]:
            name = category["name"] or f"(not in the cached menu) {category['id']}"
            lines.append(f"  {category['opens']:>5}  {name}")
    if report["unrecognised"]:
        lines += ["", "What customers typed that the bot did not understand"]
        for item in report["unrecognised"]:
            lines.append(f"  {item['count']:>5}  {item['text']}")
    lines += ["", "Findings"]
    if not report["findings"]:
        lines.append("  none yet: too little data in this period")
    for finding in report["findings"]:
        lines.append(f"  [{finding['severity']}] {finding['title']}")
        lines += textwrap.wrap(
            finding["text"], WIDTH, initial_indent="      ", subsequent_indent="      "
        )
    lines += ["", "Summary"]
    summary = report["summary"]
    lines += (
        textwrap.wrap(summary, WIDTH, initial_indent="  ", subsequent_indent="  ")
        if summary
        else ["  none (INSIGHTS_LLM_URL unset, its breaker open, or not the last 7 days)"]
    )
    return "\n".join(lines)
