"""Tenants: creating, updating and finding restaurants and their bot configuration."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Restaurant, RestaurantBot
from store.settings import Settings, check_timezone

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
RESTAURANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CONTENT_SID = re.compile(r"^HX[0-9A-Za-z]{1,62}$")


class InvalidRestaurant(ValueError):
    """Input for a restaurant was rejected; the message says which field and why."""


@dataclass(frozen=True)
class BotLimits:
    """Allowance options; None means "leave as is" (update) or "use the default" (create)."""

    daily_limit: int | None = None
    per_minute_limit: int | None = None
    monthly_limit: int | None = None

    def validate(self) -> None:
        for option in fields(self):
            value = getattr(self, option.name)
            if value is not None and value < 0:
                flag = option.name.replace("_", "-")
                raise InvalidRestaurant(f"--{flag} must be 0 or more, got {value}")


def validate_whatsapp_number(number: str) -> str:
    """Return `number` if it is E.164 (`+` and 7-15 digits), else raise InvalidRestaurant."""
    number = number.strip()
    if not E164.match(number):
        raise InvalidRestaurant(f"whatsapp number {number!r} is not E.164 (e.g. +966500000001)")
    return number


def _validate_common(
    *, name: str | None, timezone: str | None, welcome_content_sid: str | None
) -> None:
    if name is not None and not name.strip():
        raise InvalidRestaurant("name must not be empty")
    if timezone is not None:
        try:
            check_timezone(timezone)
        except ValueError as error:
            raise InvalidRestaurant(str(error)) from None
    if welcome_content_sid is not None and not CONTENT_SID.match(welcome_content_sid):
        raise InvalidRestaurant(
            f"welcome content SID {welcome_content_sid!r} is not a Content SID"
            " (HX followed by letters and digits)"
        )


def create_restaurant(
    session: Session,
    settings: Settings,
    *,
    restaurant_id: str,
    name: str,
    whatsapp_number: str,
    merchant_id: str,
    timezone: str = "UTC",
    limits: BotLimits = BotLimits(),
    welcome_content_sid: str | None = None,
) -> Restaurant:
    """Create a restaurant with its bot config; omitted limits take the `DEFAULT_*` settings."""
    if not RESTAURANT_ID.match(restaurant_id):
        raise InvalidRestaurant(
            f"restaurant id {restaurant_id!r} must be 1-64 letters, digits, '_', '-' or '.'"
        )
    if not merchant_id.strip():
        raise InvalidRestaurant("merchant id must not be empty")
    whatsapp_number = validate_whatsapp_number(whatsapp_number)
    _validate_common(name=name, timezone=timezone, welcome_content_sid=welcome_content_sid)
    limits.validate()
    if session.get(Restaurant, restaurant_id) is not None:
        raise InvalidRestaurant(f"restaurant {restaurant_id!r} already exists")
    if find_by_number(session, whatsapp_number) is not None:
        raise InvalidRestaurant(f"whatsapp number {whatsapp_number} is already in use")
    restaurant = Restaurant(
        id=restaurant_id,
        name=name.strip(),
        whatsapp_number=whatsapp_number,
        merchant_id=merchant_id.strip(),
        timezone=timezone,
        is_active=True,
    )
    restaurant.bot = RestaurantBot(
        max_messages_per_day=_or(limits.daily_limit, settings.default_max_messages_per_day),
        max_messages_per_min=_or(limits.per_minute_limit, settings.default_max_messages_per_min),
        max_conversations_per_month=_or(
            limits.monthly_limit, settings.default_max_conversations_per_month
        ),
        welcome_content_sid=welcome_content_sid,
        template_sids={},
        enabled=True,
    )
    session.add(restaurant)
    _flush_unique(session, whatsapp_number)
    return restaurant


def update_restaurant(
    session: Session,
    settings: Settings,
    restaurant_id: str,
    *,
    name: str | None = None,
    whatsapp_number: str | None = None,
    merchant_id: str | None = None,
    timezone: str | None = None,
    limits: BotLimits = BotLimits(),
    welcome_content_sid: str | None = None,
    is_active: bool | None = None,
    bot_enabled: bool | None = None,
) -> Restaurant:
    """Change the given fields of a restaurant; raise InvalidRestaurant on bad input."""
    restaurant = session.get(Restaurant, restaurant_id)
    if restaurant is None:
        raise InvalidRestaurant(f"unknown restaurant {restaurant_id!r}")
    _validate_common(name=name, timezone=timezone, welcome_content_sid=welcome_content_sid)
    limits.validate()
    if whatsapp_number is not None:
        whatsapp_number = validate_whatsapp_number(whatsapp_number)
        other = find_by_number(session, whatsapp_number)
        if other is not None and other.id != restaurant.id:
            raise InvalidRestaurant(f"whatsapp number {whatsapp_number} is already in use")
        restaurant.whatsapp_number = whatsapp_number
    if merchant_id is not None:
        if not merchant_id.strip():
            raise InvalidRestaurant("merchant id must not be empty")
        restaurant.merchant_id = merchant_id.strip()
    _set_if_given(restaurant, name=name and name.strip(), timezone=timezone, is_active=is_active)
    bot = restaurant.bot or _default_bot(settings)
    restaurant.bot = bot
    _set_if_given(
        bot,
        max_messages_per_day=limits.daily_limit,
        max_messages_per_min=limits.per_minute_limit,
        max_conversations_per_month=limits.monthly_limit,
        welcome_content_sid=welcome_content_sid,
        enabled=bot_enabled,
    )
    _flush_unique(session, restaurant.whatsapp_number)
    return restaurant


def find_by_number(session: Session, whatsapp_number: str) -> Restaurant | None:
    """Return the restaurant that owns `whatsapp_number` (E.164), with its bot config."""
    return session.scalars(
        select(Restaurant).where(Restaurant.whatsapp_number == whatsapp_number)
    ).first()


def list_restaurants(session: Session) -> Sequence[Restaurant]:
    """Return every restaurant, ordered by id."""
    return session.scalars(select(Restaurant).order_by(Restaurant.id)).all()


def _default_bot(settings: Settings) -> RestaurantBot:
    return RestaurantBot(
        max_messages_per_day=settings.default_max_messages_per_day,
        max_messages_per_min=settings.default_max_messages_per_min,
        max_conversations_per_month=settings.default_max_conversations_per_month,
        template_sids={},
        enabled=True,
    )


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _set_if_given(target: Any, **values: Any) -> None:
    for attribute, value in values.items():
        if value is not None:
            setattr(target, attribute, value)


def _flush_unique(session: Session, whatsapp_number: str) -> None:
    # A concurrent writer may take the number between our check and the flush.
    try:
        session.flush()
    except IntegrityError:
        raise InvalidRestaurant(
            f"restaurant id or whatsapp number {whatsapp_number} is already in use"
        ) from None


def timezones_of(session: Session, restaurant_ids: Sequence[str]) -> dict[str, str]:
    """Return the time zone of each of these restaurants (unknown ids left out)."""
    if not restaurant_ids:
        return {}
    query = select(Restaurant.id, Restaurant.timezone).where(Restaurant.id.in_(restaurant_ids))
    return {restaurant_id: timezone for restaurant_id, timezone in session.execute(query)}


def names_of(session: Session, restaurant_ids: Sequence[str]) -> dict[str, str]:
    """Return the name of each of these restaurants (unknown ids left out)."""
    if not restaurant_ids:
        return {}
    query = select(Restaurant.id, Restaurant.name).where(Restaurant.id.in_(restaurant_ids))
    return {restaurant_id: name for restaurant_id, name in session.execute(query)}
