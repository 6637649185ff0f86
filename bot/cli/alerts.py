"""`alerts show|set|test --restaurant ID`: a restaurant's alert rules from the command line."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from alerts import events
from alerts.channels import channel_json, list_channels
from alerts.rules import InvalidAlertInput, parse_rules, rules_of, save_rules
from bot import jobs
from bot.cli.common import Group, command_transaction, fail
from bot.context import runtime
from store.models import Restaurant
from store.timeutil import utcnow


@click.group("alerts", cls=Group)
def alerts() -> None:
    """Show and change a restaurant's alert rules; send a test event."""


def _check(session: Session, restaurant_id: str) -> None:
    if session.get(Restaurant, restaurant_id) is None:
        fail(f"unknown restaurant {restaurant_id!r}")


@alerts.command("show")
@with_appcontext
@click.option("--restaurant", "restaurant_id", required=True)
def show_command(restaurant_id: str) -> None:
    """Print the rules and channels as JSON (what GET /api/alerts answers)."""
    with command_transaction() as session:
        _check(session, restaurant_id)
        rules = rules_of(session, restaurant_id)
        channels = list_channels(session, restaurant_id)
    answer = {
        "rules": [rule.to_json() for rule in rules],
        "channels": [channel_json(channel) for channel in channels],
    }
    click.echo(json.dumps(answer, ensure_ascii=False, indent=2))


@alerts.command("set")
@with_appcontext
@click.option("--restaurant", "restaurant_id", required=True)
@click.argument("rules", nargs=-1)
def set_command(restaurant_id: str, rules: tuple[str, ...]) -> None:
    """Replace the rules with RULES, each `METRIC[:PERCENT][:off]`.

    e.g. `daily_messages:80 daily_messages:100 monthly_conversations:90 pace:off`;
    no RULES at all turns every alert off.
    """
    parsed = []
    for text in rules:
        parts = text.split(":")
        enabled = parts[-1] != "off"
        if not enabled:
            parts = parts[:-1]
        threshold: int | None = None
        if len(parts) == 2 and parts[1].isdigit():
            threshold = int(parts[1])
        elif len(parts) != 1:
            fail(f"rule {text!r}: expected METRIC[:PERCENT][:off], e.g. daily_messages:80")
        parsed.append({"metric": parts[0], "threshold": threshold, "enabled": enabled})
    try:
        checked = parse_rules({"rules": parsed})
    except InvalidAlertInput as error:
        fail(str(error))
        return
    with command_transaction() as session:
        _check(session, restaurant_id)
        stored = save_rules(session, restaurant_id, checked, utcnow())
    click.echo(json.dumps({"rules": [rule.to_json() for rule in stored]}, indent=2))


@alerts.command("test")
@with_appcontext
@click.option("--restaurant", "restaurant_id", required=True)
def test_command(restaurant_id: str) -> None:
    """Send a `test` event to every channel of the restaurant; print its id."""
    with command_transaction() as session:
        _check(session, restaurant_id)
        event_id, new_jobs = events.emit_test(session, restaurant_id, utcnow())
    current = runtime()
    enqueued = jobs.enqueue(current.broker, new_jobs)
    with current.autocommit() as connection:
        jobs.mark_enqueued(connection, enqueued)
    click.echo(f"{len(new_jobs)} delivery(ies) queued", err=True)
    click.echo(event_id)
