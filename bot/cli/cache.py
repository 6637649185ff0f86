"""`flask --app bot cache purge --merchant M`: drop a merchant's cached catalog everywhere."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from bot.cli.common import Group, fail
from bot.context import runtime
from cache.base import CacheUnavailable


@click.group(
    "cache", cls=Group, help="The catalog cache (Redis and every process's in-process tier)."
)
def cache() -> None:
    """Group the cache commands."""


@cache.command(
    "purge",
    help="Drop a merchant's cached catalog from Redis and, within a second, from every process.",
)
@click.option("--merchant", "merchant_id", required=True, help="The catalog merchant id.")
@with_appcontext
def purge(merchant_id: str) -> None:
    """Purge one merchant's cached catalog."""
    merchant_id = merchant_id.strip()
    if not merchant_id:
        fail("--merchant: must not be empty")
    if runtime().settings.redis_url is None:
        fail("REDIS_URL is not set (this command needs Redis)")
    try:
        report = runtime().catalog.purge(merchant_id)
    except CacheUnavailable as error:
        fail(f"cannot purge the cache of merchant {merchant_id}: {error}")
        return
    click.echo(
        f"purged merchant {merchant_id}: {report.deleted} keys deleted from Redis, "
        f"{report.notified} processes notified"
    )
