"""`dead-letters list|retry ID|delete ID`: the dead-letter queue from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable

import click
from flask.cli import with_appcontext

from actors.dead_letters import DeadLettersUnsupported, delete_letter, list_letters, retry_letter
from bot.cli.common import Group, WholeNumber, fail
from bot.context import runtime
from bot.runtime import Runtime


@click.group("dead-letters", cls=Group)
def dead_letters() -> None:
    """List, replay and delete dead-lettered jobs (Redis broker)."""


@dead_letters.command("list")
@with_appcontext
@click.option("--limit", type=WholeNumber(1), default=100, show_default=True)
@click.option("--offset", type=WholeNumber(0), default=0)
def list_command(limit: int, offset: int) -> None:
    """Print dead letters, most recent first, one JSON object a line."""
    try:
        total, letters = list_letters(runtime(), offset=offset, limit=limit)
    except DeadLettersUnsupported as error:
        fail(str(error))
        return
    for letter in letters:
        click.echo(json.dumps(letter, ensure_ascii=False))
    click.echo(f"{total} dead letter(s)", err=True)


@dead_letters.command("retry")
@with_appcontext
@click.argument("message_id")
def retry_command(message_id: str) -> None:
    """Put dead letter MESSAGE_ID back on its queue (its job becomes queued)."""
    _settle(retry_letter, message_id, "requeued")


@dead_letters.command("delete")
@with_appcontext
@click.argument("message_id")
def delete_command(message_id: str) -> None:
    """Drop dead letter MESSAGE_ID for good."""
    _settle(delete_letter, message_id, "deleted")


def _settle(action: Callable[[Runtime, str], bool], message_id: str, done: str) -> None:
    try:
        found = action(runtime(), message_id)
    except DeadLettersUnsupported as error:
        fail(str(error))
        return
    if not found:
        fail(f"no dead letter {message_id}")
    click.echo(f"{message_id} {done}")
