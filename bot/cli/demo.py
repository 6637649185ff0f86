"""`flask --app bot demo seed`: the demo restaurant, a fresh demo PAT and admin key."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from bot.cli.common import Group, command_transaction
from bot.context import runtime
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
