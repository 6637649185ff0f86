"""`flask --app bot restaurants create|update|list`."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import with_appcontext

from bot.cli.common import Group, WholeNumber, command_transaction, flag_pair
from bot.context import runtime
from store import restaurants as store
from store.models import Restaurant
from store.restaurants import BotLimits

NON_NEGATIVE = WholeNumber(minimum=0)


@click.group("restaurants", cls=Group, help="Tenants and their bot configuration.")
def restaurants() -> None:
    """Group the restaurant commands."""


def _limit_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(
        [
            click.option("--daily-limit", type=NON_NEGATIVE, help="Inbound messages per day."),
            click.option("--per-minute-limit", type=NON_NEGATIVE, help="Messages per minute."),
            click.option("--monthly-limit", type=NON_NEGATIVE, help="Conversations per month."),
            click.option("--welcome-content-sid", help="Welcome template (Content SID, HX…)."),
            click.option("--timezone", help="IANA zone of day/month boundaries."),
        ]
    ):
        command = option(command)
    return command


@restaurants.command("create", help="Create a restaurant with its bot configuration.")
@click.option("--id", "restaurant_id", required=True)
@click.option("--name", required=True)
@click.option("--whatsapp-number", required=True, help="E.164, e.g. +966500000001")
@click.option("--merchant-id", required=True, help="The restaurant's id in the catalog API.")
@_limit_options
@with_appcontext
def create(
    restaurant_id: str,
    name: str,
    whatsapp_number: str,
    merchant_id: str,
    daily_limit: int | None,
    per_minute_limit: int | None,
    monthly_limit: int | None,
    welcome_content_sid: str | None,
    timezone: str | None,
) -> None:
    """Create a restaurant; omitted limits take the DEFAULT_* settings."""
    with command_transaction() as session:
        restaurant = store.create_restaurant(
            session,
            runtime().settings,
            restaurant_id=restaurant_id,
            name=name,
            whatsapp_number=whatsapp_number,
            merchant_id=merchant_id,
            timezone=timezone or "UTC",
            limits=BotLimits(daily_limit, per_minute_limit, monthly_limit),
            welcome_content_sid=welcome_content_sid,
        )
        click.echo(_describe(restaurant))


@restaurants.command("update", help="Change a restaurant's fields; omitted options stay.")
@click.argument("restaurant_id")
@click.option("--name")
@click.option("--whatsapp-number")
@click.option("--merchant-id")
@_limit_options
@click.option("--active", is_flag=True, help="Serve the restaurant again.")
@click.option("--inactive", is_flag=True, help="Stop serving it (messages stored, no replies).")
@click.option("--bot-enabled", is_flag=True, help="Turn its bot on.")
@click.option(
    "--bot-disabled", is_flag=True, help="Turn its bot off (messages stored, no replies)."
)
@with_appcontext
def update(
    restaurant_id: str,
    name: str | None,
    whatsapp_number: str | None,
    merchant_id: str | None,
    daily_limit: int | None,
    per_minute_limit: int | None,
    monthly_limit: int | None,
    welcome_content_sid: str | None,
    timezone: str | None,
    active: bool,
    inactive: bool,
    bot_enabled: bool,
    bot_disabled: bool,
) -> None:
    """Update a restaurant."""
    is_active = flag_pair(active, inactive, ("--active", "--inactive"))
    enabled = flag_pair(bot_enabled, bot_disabled, ("--bot-enabled", "--bot-disabled"))
    with command_transaction() as session:
        restaurant = store.update_restaurant(
            session,
            runtime().settings,
            restaurant_id,
            name=name,
            whatsapp_number=whatsapp_number,
            merchant_id=merchant_id,
            timezone=timezone,
            limits=BotLimits(daily_limit, per_minute_limit, monthly_limit),
            welcome_content_sid=welcome_content_sid,
            is_active=is_active,
            bot_enabled=enabled,
        )
        click.echo(_describe(restaurant))


@restaurants.command("list", help="List every restaurant.")
@with_appcontext
def list_() -> None:
    """Print one line per restaurant."""
    with command_transaction() as session:
        for restaurant in store.list_restaurants(session):
            click.echo(_describe(restaurant))


def _describe(restaurant: Restaurant) -> str:
    bot = restaurant.bot
    state = "active" if restaurant.is_active else "inactive"
    limits = "no bot config"
    if bot is not None:
        state += ", bot enabled" if bot.enabled else ", bot disabled"
        limits = (
            f"limits {bot.max_messages_per_day}/day {bot.max_messages_per_min}/min "
            f"{bot.max_conversations_per_month} conversations/month"
        )
        if bot.welcome_content_sid:
            limits += f", welcome {bot.welcome_content_sid}"
    return (
        f"{restaurant.id}\t{restaurant.name}\t{restaurant.whatsapp_number}\t"
        f"merchant={restaurant.merchant_id}\ttz={restaurant.timezone}\t{state}\t{limits}"
    )
