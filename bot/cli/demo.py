"""`flask --app bot demo seed`: the demo restaurant, a fresh demo PAT and admin key."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from bot.cli.common import Group, WholeNumber, command_transaction, fail
from bot.context import runtime
from bot.demo_history import write_history
from catalog.errors import CatalogError
from store import credentials
from store.models import ApiKey, PersonalAccessToken, Restaurant
from store.restaurants import create_restaurant, update_restaurant

DEMO_RESTAURANT_ID = "demo"
DEMO_NAME = "Al Diwan Grill / مطعم الديوان"
DEMO_NUMBER = "+966500000001"
DEMO_MERCHANT = "demo-merchant"
DEMO_TIMEZONE = "Asia/Riyadh"
DEMO_CREDENTIAL_NAME = "demo"


@click.group("demo", cls=Group, help="Demo data for trying the bot locally.")
def demo() -> None:
    """Group the demo commands."""


@demo.command("seed", help="Create the demo restaurant (once) and a fresh demo PAT and key.")
@with_appcontext
def seed() -> None:
    """Seed the demo; the previous demo PAT and admin key are revoked (only hashes are kept)."""
    with command_transaction() as session:
        demo_restaurant = session.get(Restaurant, DEMO_RESTAURANT_ID)
        if demo_restaurant is not None and not (
            demo_restaurant.is_active
            and demo_restaurant.bot is not None
            and demo_restaurant.bot.enabled
        ):
            # The credentials printed next must reach a bot that answers.
            update_restaurant(
                session, runtime().settings, DEMO_RESTAURANT_ID, is_active=True, bot_enabled=True
            )
            click.echo("the demo restaurant was inactive or its bot disabled: turned on", err=True)
        if demo_restaurant is None:
            create_restaurant(
                session,
                runtime().settings,
                restaurant_id=DEMO_RESTAURANT_ID,
                name=DEMO_NAME,
                whatsapp_number=DEMO_NUMBER,
                merchant_id=DEMO_MERCHANT,
                timezone=DEMO_TIMEZONE,
            )
        credentials.revoke_named(
            session, PersonalAccessToken, DEMO_CREDENTIAL_NAME, restaurant_id=DEMO_RESTAURANT_ID
        )
        credentials.revoke_named(session, ApiKey, DEMO_CREDENTIAL_NAME)
        pat = credentials.create_pat(
            session,
            restaurant_id=DEMO_RESTAURANT_ID,
            name=DEMO_CREDENTIAL_NAME,
            expires_in_days=None,
        )
        key = credentials.create_api_key(session, name=DEMO_CREDENTIAL_NAME)
    click.echo(f"Restaurant ID: {DEMO_RESTAURANT_ID}")
    click.echo(f"WhatsApp number: {DEMO_NUMBER}")
    click.echo(f"PAT: {pat.secret}")
    click.echo(f"Admin key: {key.secret}")


@demo.command(
    "history",
    help="Give the demo restaurant a few past days of conversations, through the real "
    "inbound code, then seal and analyze them (idempotent).",
)
@click.option("--days", type=WholeNumber(1, 60), default=7, show_default=True)
@with_appcontext
def history(days: int) -> None:
    """Write the demo history; print what was written."""
    current = runtime()
    tenant = current.tenants.by_id(DEMO_RESTAURANT_ID)
    if tenant is None:
        fail("no demo restaurant: run `flask --app bot demo seed` first")
        return

    def warm() -> None:
        categories = current.catalog.categories(tenant.merchant_id)
        current.catalog.branches(tenant.merchant_id)
        for category in categories:
            current.catalog.products(tenant.merchant_id, str(category["id"]))

    try:
        result = write_history(current, tenant, days=days, warm=warm)
    except CatalogError as error:
        # The history needs the menu; without it the demo still runs, with no history.
        click.echo(f"demo history skipped: the catalog is unavailable ({error})", err=True)
        return
    click.echo(
        f"Demo history: {result.messages} messages over {result.days} new day(s) "
        f"({result.skipped_days} already there), {result.batches} batch(es) analyzed"
    )
