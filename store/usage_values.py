"""The usage values of SPEC §8, shared by the read model (`store.usage`) and the API's
Python client (`usage_api.client`): plain dataclasses, no database behind them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Allowance:
    """A restaurant's limits and what is left of them today and this month."""

    daily_limit: int
    daily_remaining: int
    monthly_limit: int
    monthly_remaining: int


@dataclass(frozen=True)
class RestaurantUsage:
    """The usage object of SPEC §8."""

    restaurant_id: str
    restaurant_name: str
    conversations_this_month: int
    last_conversation_at: dt.datetime | None
    allowance: Allowance
    first_activity: dt.datetime | None
    last_activity: dt.datetime | None
    is_active: bool


@dataclass(frozen=True)
class MonthUsage:
    """One calendar month (restaurant's zone) of a restaurant's history (zeros when
    nothing happened)."""

    year: int
    month: int
    conversation_count: int
    last_conversation_at: dt.datetime | None
