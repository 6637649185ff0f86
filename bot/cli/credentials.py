"""`flask --app bot tokens …` (restaurant owners' PATs) and `api-keys …` (admins)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from bot.cli.common import Group, WholeNumber, command_transaction
from store import credentials
from store.models import ApiKey, PersonalAccessToken
from store.timeutil import iso_z, utcnow


@click.group("tokens", cls=Group, help="Personal access tokens of restaurant owners.")
def tokens() -> None:
    """Group the PAT commands."""


@tokens.command("create", help="Create a token; it is printed once, alone on the last line.")
@click.option("--restaurant", "restaurant_id", required=True)
@click.option("--name", default="default", show_default=True)
@click.option("--expires-in-days", type=WholeNumber(minimum=1, maximum=36500))
@with_appcontext
def create_token(restaurant_id: str, name: str, expires_in_days: int | None) -> None:
    """Mint a PAT for a restaurant."""
    with command_transaction() as session:
        minted = credentials.create_pat(
            session, restaurant_id=restaurant_id, name=name, expires_in_days=expires_in_days
        )
    expiry = iso_z(minted.expires_at) or "never"
    click.echo(f"created token {minted.prefix} for {restaurant_id}, expires {expiry}")
    click.echo("store it now: it cannot be shown again")
    click.echo(minted.secret)


@tokens.command("list", help="List tokens (prefixes only; secrets are never stored).")
@click.option("--restaurant", "restaurant_id")
@with_appcontext
def list_tokens(restaurant_id: str | None) -> None:
    """Print one line per token."""
    with command_transaction() as session:
        for token in credentials.list_pats(session, restaurant_id):
            click.echo(f"{token.prefix}\t{token.restaurant_id}\t{_describe(token)}")


@tokens.command("revoke", help="Revoke the token with this prefix.")
@click.argument("prefix")
@with_appcontext
def revoke_token(prefix: str) -> None:
    """Revoke a PAT."""
    with command_transaction() as session:
        token = credentials.revoke(session, PersonalAccessToken, prefix)
        click.echo(f"revoked {token.prefix}")


@click.group("api-keys", cls=Group, help="Admin API keys.")
def api_keys() -> None:
    """Group the API key commands."""


@api_keys.command("create", help="Create an admin key; printed once, alone on the last line.")
@click.option("--name", required=True)
@click.option(
    "--read-only",
    is_flag=True,
    help="A viewer key: sees every admin page and GET endpoint, and may change nothing.",
)
@with_appcontext
def create_key(name: str, read_only: bool) -> None:
    """Mint an admin API key."""
    role = credentials.VIEWER_ROLE if read_only else credentials.ADMIN_ROLE
    with command_transaction() as session:
        minted = credentials.create_api_key(session, name=name, role=role)
    kind = "read-only (viewer) key" if read_only else "admin key"
    click.echo(f"created {kind} {minted.prefix}")
    click.echo("store it now: it cannot be shown again")
    click.echo(minted.secret)


@api_keys.command("list", help="List admin keys (prefixes only).")
@with_appcontext
def list_keys() -> None:
    """Print one line per key."""
    with command_transaction() as session:
        for key in credentials.list_api_keys(session):
            click.echo(f"{key.prefix}\t{_describe(key)}\trole {key.role}")


@api_keys.command("revoke", help="Revoke the admin key with this prefix.")
@click.argument("prefix")
@with_appcontext
def revoke_key(prefix: str) -> None:
    """Revoke an admin key."""
    with command_transaction() as session:
        key = credentials.revoke(session, ApiKey, prefix)
        click.echo(f"revoked {key.prefix}")


def _describe(credential: PersonalAccessToken | ApiKey) -> str:
    if credential.revoked_at is not None:
        state = f"revoked {iso_z(credential.revoked_at)}"
    elif credential.expires_at is not None and credential.expires_at <= utcnow():
        state = f"expired {iso_z(credential.expires_at)}"
    else:
        state = "active"
    return (
        f"{credential.name}\t{state}\tcreated {iso_z(credential.created_at)}\t"
        f"last used {iso_z(credential.last_used_at) or 'never'}\t"
        f"expires {iso_z(credential.expires_at) or 'never'}"
    )
