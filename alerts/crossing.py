"""Deciding, from the counter values the webhook's upserts return, which rules fire.

The common case costs no statement: the rules are in memory (loaded with the tenant) and
the used/limit comparison is arithmetic on the values the counter upserts RETURNed. Only
a rule whose threshold is reached and not yet known to have fired writes: an `INSERT …
ON CONFLICT DO NOTHING` into `alert_firings`, unique on (restaurant, metric, threshold,
period). That row is what makes a rule fire at most once per period across every
process; the event and its deliveries follow in the same transaction (the outbox).

Each process remembers the firings it has seen (inserted elsewhere: the conflict), so a
restaurant above a threshold costs one statement per process and period, not one per
message. A rule enabled while usage is already above it fires on the next accepted
message: nothing has fired for it in this period yet.

`pace` is evaluated when a conversation opens (one indexed read of the 7 previous
days' counters, until it has fired this month) and hourly by the scheduler.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cachetools import LRUCache
from sqlalchemy.orm import Session

from alerts import events
from alerts.firings import record_firing
from alerts.forecast import conversations_last_7_days, month_pace
from alerts.rules import DAILY_MESSAGES, MONTHLY_CONVERSATIONS, PACE, Rule
from store.counters import DayCounts, UsagePeriod
from store.models import Job


class AlertTenant(Protocol):
    """What crossing detection needs of a tenant (`bot.tenants.Tenant` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def daily_limit(self) -> int: ...
    @property
    def monthly_limit(self) -> int: ...
    @property
    def alert_rules(self) -> tuple[Rule, ...]: ...


@dataclass(frozen=True, slots=True)
class Crossing:
    """A threshold reached: what the event says."""

    metric: str
    threshold: int
    used: int
    limit: int
    period: str


def month_key(period: UsagePeriod) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def reached(
    rules: Sequence[Rule], period: UsagePeriod, day: DayCounts, conversations: int,
    daily_limit: int, monthly_limit: int,
) -> list[Crossing]:  # fmt: skip
    """Return the enabled thresholds that the counters have reached (pure arithmetic)."""
    found = []
    for rule in rules:
        if not rule.enabled or rule.threshold is None:
            continue
        if rule.metric == DAILY_MESSAGES:
            used, limit = day.messages, daily_limit
        elif rule.metric == MONTHLY_CONVERSATIONS:
            used, limit = conversations, monthly_limit
        else:
            continue
        if limit > 0 and used * 100 >= rule.threshold * limit:
            key = period.day.isoformat() if rule.metric == DAILY_MESSAGES else month_key(period)
            found.append(Crossing(rule.metric, rule.threshold, used, limit, key))
    return found


class Crossings:
    """Turns an accepted message's counter values into firings (one per process)."""

    def __init__(self, remembered: int = 200_000) -> None:
        self._fired: LRUCache[tuple[str, str, int, str], bool] = LRUCache(remembered)
        self._lock = threading.Lock()

    def _known(self, key: tuple[str, str, int, str]) -> bool:
        # A read needs no lock: a dict lookup, and a stale answer costs one conflict at most.
        return key in self._fired

    def _remember(self, key: tuple[str, str, int, str]) -> None:
        with self._lock:
            self._fired[key] = True

    def after_accepted(
        self,
        session: Session,
        tenant: AlertTenant,
        period: UsagePeriod,
        day: DayCounts,
        conversations: int,
        *,
        opened_conversation: bool,
        now: dt.datetime,
    ) -> list[Job]:
        """Fire what the counters reached; return the delivery jobs to enqueue after commit."""
        rules = tenant.alert_rules
        if not rules:
            return []
        jobs: list[Job] = []
        for crossing in reached(
            rules, period, day, conversations, tenant.daily_limit, tenant.monthly_limit
        ):
            key = (tenant.id, crossing.metric, crossing.threshold, crossing.period)
            if self._known(key):
                continue
            data = {
                "metric": crossing.metric,
                "threshold": crossing.threshold,
                "used": crossing.used,
                "limit": crossing.limit,
                "period": crossing.period,
            }
            fired = self._fire(session, key, events.THRESHOLD_REACHED, data, now)
            jobs += fired
        if opened_conversation and any(r.metric == PACE and r.enabled for r in rules):
            jobs += self._pace(session, tenant, period, conversations, now)
        return jobs

    def _pace(
        self,
        session: Session,
        tenant: AlertTenant,
        period: UsagePeriod,
        conversations: int,
        now: dt.datetime,
    ) -> list[Job]:
        key = (tenant.id, PACE, 0, month_key(period))
        if self._known(key) or conversations >= tenant.monthly_limit:
            return []
        _, _, reached_on = month_pace(
            conversations_last_7_days=conversations_last_7_days(session, tenant.id, period.day),
            conversations_this_month=conversations,
            monthly_limit=tenant.monthly_limit,
            today=period.day,
        )
        if reached_on is None:
            return []
        data = {"projectedDate": reached_on.isoformat(), "limit": tenant.monthly_limit}
        return self._fire(session, key, events.PACE_EXCEEDS, data, now)

    def _fire(
        self,
        session: Session,
        key: tuple[str, str, int, str],
        event_type: str,
        data: dict[str, object],
        now: dt.datetime,
    ) -> list[Job]:
        restaurant_id, metric, threshold, period = key
        event_id = events.new_event_id()
        if not record_firing(session, restaurant_id, metric, threshold, period, event_id, now):
            # Fired already (committed by another message or process): remember it. A firing
            # of our own is remembered only once committed: the next message's conflict.
            self._remember(key)
            return []
        return events.emit(session, event_type, restaurant_id, data, now, event_id=event_id)
