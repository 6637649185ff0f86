"""Routing an inbound message to its restaurant: the one tenant lookup, cached in process.

Every path that needs a restaurant by its WhatsApp number (webhook, status callbacks,
simulate) goes through `TenantDirectory.by_number`, which wraps
`store.restaurants.find_by_number`; actors find theirs by id (`by_id`). Entries live
`TENANT_TTL_S`, so a `restaurants update` reaches every web and worker process within
that time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.rules import DEFAULT_RULES, Rule, rules_of
from store.models import Restaurant
from store.restaurants import find_by_number
from store.settings import Settings

TENANT_TTL_S = 5.0


@dataclass(frozen=True)
class Tenant:
    """A restaurant and its bot configuration, as the webhook needs them (immutable)."""

    id: str
    name: str
    whatsapp_number: str
    merchant_id: str
    timezone: str
    is_active: bool
    bot_enabled: bool
    daily_limit: int
    per_minute_limit: int
    monthly_limit: int
    welcome_content_sid: str | None
    template_sids: dict[str, str] = field(default_factory=dict)
    # Loaded with the tenant, so the webhook decides alert crossings without a statement.
    alert_rules: tuple[Rule, ...] = DEFAULT_RULES

    @property
    def accepts_messages(self) -> bool:
        """Return True when the restaurant is active and its bot enabled."""
        return self.is_active and self.bot_enabled

    @classmethod
    def of(
        cls,
        restaurant: Restaurant,
        settings: Settings,
        alert_rules: tuple[Rule, ...] = DEFAULT_RULES,
    ) -> Tenant:
        bot = restaurant.bot
        templates: dict[str, Any] = dict(bot.template_sids or {}) if bot else {}
        return cls(
            id=restaurant.id,
            name=restaurant.name,
            whatsapp_number=restaurant.whatsapp_number,
            merchant_id=restaurant.merchant_id,
            timezone=restaurant.timezone,
            is_active=restaurant.is_active,
            bot_enabled=bot.enabled if bot else True,
            daily_limit=bot.max_messages_per_day if bot else settings.default_max_messages_per_day,
            per_minute_limit=(
                bot.max_messages_per_min if bot else settings.default_max_messages_per_min
            ),
            monthly_limit=(
                bot.max_conversations_per_month
                if bot
                else settings.default_max_conversations_per_month
            ),
            welcome_content_sid=(bot.welcome_content_sid if bot else None)
            or settings.welcome_content_sid,
            template_sids={str(k): str(v) for k, v in templates.items()},
            alert_rules=alert_rules,
        )


class TenantDirectory:
    """Finds restaurants by WhatsApp number or id, with a short in-process cache."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._by_number: TTLCache[str, Tenant | None] = TTLCache(10_000, TENANT_TTL_S)
        self._by_id: TTLCache[str, Tenant] = TTLCache(10_000, TENANT_TTL_S)
        self._lock = threading.Lock()

    def by_number(self, whatsapp_number: str) -> Tenant | None:
        """Return the tenant owning `whatsapp_number` (E.164), or None."""
        with self._lock:
            if whatsapp_number in self._by_number:
                return self._by_number[whatsapp_number]
        with self._sessions() as session:
            restaurant = find_by_number(session, whatsapp_number)
            tenant = self._tenant(session, restaurant)
        with self._lock:
            self._by_number[whatsapp_number] = tenant
        return tenant

    def by_id(self, restaurant_id: str) -> Tenant | None:
        """Return the tenant `restaurant_id`, or None (which is not cached)."""
        with self._lock:
            if restaurant_id in self._by_id:
                return self._by_id[restaurant_id]
        # A bootstrap per new customer: a herd of them must not be a query each.
        with self._sessions() as session:
            restaurant = session.scalars(
                select(Restaurant).where(Restaurant.id == restaurant_id)
            ).first()
            tenant = self._tenant(session, restaurant)
        if tenant is not None:
            with self._lock:
                self._by_id[restaurant_id] = tenant
        return tenant

    def _tenant(self, session: Session, restaurant: Restaurant | None) -> Tenant | None:
        if restaurant is None:
            return None
        return Tenant.of(restaurant, self._settings, rules_of(session, restaurant.id))

    def forget(self) -> None:
        """Drop every cached entry (tests, after changing restaurants in process)."""
        with self._lock:
            self._by_number.clear()
            self._by_id.clear()
