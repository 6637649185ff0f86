"""`flask --app bot db upgrade`: run the migrations (the Procfile's `release`)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from bot.cli.common import Group
from bot.context import runtime


@click.group("db", cls=Group, help="Database schema.")
def db() -> None:
    """Group the database commands."""


@db.command("upgrade", help="Migrate the database to the latest schema.")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def upgrade(revision: str) -> None:
    """Migrate the database of `DATABASE_URL`."""
    from store import migrations  # Alembic is only loaded by the command that needs it

    migrations.upgrade(runtime().engine, revision)
    click.echo(f"database at {revision}")
