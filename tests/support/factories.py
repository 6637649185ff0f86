"""Test data made through the store's own functions."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from store.models import Restaurant
from store.restaurants import BotLimits, create_restaurant
from store.settings import Settings

_numbers = itertools.count(1)


def restaurant(
    session: Session,
    settings: Settings,
    *,
    restaurant_id: str | None = None,
    name: str = "Al Diwan / الديوان",
    merchant_id: str = "demo-merchant",
    timezone: str = "UTC",
    daily_limit: int | None = None,
    per_minute_limit: int | None = None,
    monthly_limit: int | None = None,
    welcome_content_sid: str | None = None,
) -> Restaurant:
    """Create and flush a restaurant with a fresh WhatsApp number."""
    n = next(_numbers)
    created = create_restaurant(
        session,
        settings,
        restaurant_id=restaurant_id or f"r{n}",
        name=name,
        whatsapp_number=f"+9665{n:08d}",
        merchant_id=merchant_id,
        timezone=timezone,
        limits=BotLimits(daily_limit, per_minute_limit, monthly_limit),
        welcome_content_sid=welcome_content_sid,
    )
    session.flush()
    return created
