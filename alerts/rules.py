"""Alert rules: thresholds of the daily and monthly allowances, and the pace (SPEC §15).

A restaurant without settings has the default rules, all on. Rules are read with the
tenant (`bot.tenants`, cached a few seconds in each process), so the webhook decides
crossings without reading them per message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.models import AlertSettings
from store.dialects import upsert_for

DAILY_MESSAGES = "daily_messages"
MONTHLY_CONVERSATIONS = "monthly_conversations"
PACE = "pace"
METRICS = (DAILY_MESSAGES, MONTHLY_CONVERSATIONS, PACE)
MAX_RULES = 10


class InvalidAlertInput(ValueError):
    """Alert input was refused; the message says what and why (a `400 invalid_parameter`)."""


@dataclass(frozen=True)
class Rule:
    """One rule: a metric, its threshold in percent (None for pace), on or off."""

    metric: str
    threshold: int | None
    enabled: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "threshold": self.threshold, "enabled": self.enabled}


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(DAILY_MESSAGES, 80),
    Rule(DAILY_MESSAGES, 100),
    Rule(MONTHLY_CONVERSATIONS, 80),
    Rule(MONTHLY_CONVERSATIONS, 100),
    Rule(PACE, None),
)


def parse_rules(payload: Any) -> tuple[Rule, ...]:
    """Return the rules of a `PUT /api/alerts/rules` body (`{"rules": [...]}`).

    Raises:
      InvalidAlertInput: Not a list of rules, more than 10, an unknown metric, a threshold
        outside 1–100 (or one given for pace).
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("rules"), list):
        raise InvalidAlertInput('expected a JSON object {"rules": [...]}')
    items = payload["rules"]
    if len(items) > MAX_RULES:
        raise InvalidAlertInput(f"at most {MAX_RULES} rules, got {len(items)}")
    # A rule given twice is kept as given: it still fires once (the firing key is the same).
    return tuple(_parse_rule(n, item) for n, item in enumerate(items))


def _parse_rule(n: int, item: Any) -> Rule:
    where = f"rules[{n}]"
    if not isinstance(item, dict):
        raise InvalidAlertInput(f"{where}: expected an object")
    unknown = set(item) - {"metric", "threshold", "enabled"}
    if unknown:
        raise InvalidAlertInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    metric = item.get("metric")
    if metric not in METRICS:
        raise InvalidAlertInput(f"{where}.metric: expected one of {', '.join(METRICS)}")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidAlertInput(f"{where}.enabled: expected true or false")
    threshold = item.get("threshold")
    if metric == PACE:
        if threshold is not None:
            raise InvalidAlertInput(f"{where}.threshold: must be null for pace")
        return Rule(PACE, None, enabled)
    if isinstance(threshold, float) and threshold.is_integer():
        threshold = int(threshold)  # 80.0 is the integer 80 in JSON
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 100:
        raise InvalidAlertInput(f"{where}.threshold: expected a whole percent from 1 to 100")
    return Rule(metric, threshold, enabled)


def rules_from_json(stored: Iterable[dict[str, Any]] | None) -> tuple[Rule, ...]:
    """Return stored rules (None: the defaults)."""
    if stored is None:
        return DEFAULT_RULES
    return tuple(
        Rule(str(r["metric"]), r.get("threshold"), bool(r.get("enabled", True))) for r in stored
    )


def rules_of(session: Session, restaurant_id: str) -> tuple[Rule, ...]:
    """Return a restaurant's rules (the defaults when it never set any)."""
    stored = session.scalar(
        select(AlertSettings.rules).where(AlertSettings.restaurant_id == restaurant_id)
    )
    return rules_from_json(stored)


def rules_by_restaurant(
    session: Session, restaurant_ids: Sequence[str]
) -> dict[str, tuple[Rule, ...]]:
    """Return the rules of several restaurants in one statement."""
    found: dict[str, Any] = dict(
        session.execute(
            select(AlertSettings.restaurant_id, AlertSettings.rules).where(
                AlertSettings.restaurant_id.in_(list(restaurant_ids))
            )
        ).all()
    )
    return {rid: rules_from_json(found.get(rid)) for rid in restaurant_ids}


def save_rules(
    session: Session, restaurant_id: str, rules: Sequence[Rule], now: dt.datetime
) -> tuple[Rule, ...]:
    """Replace a restaurant's rules; return them as stored."""
    dialect = session.connection().dialect.name
    values = {"rules": [rule.to_json() for rule in rules], "updated_at": now}
    statement = upsert_for(dialect)(AlertSettings).values(restaurant_id=restaurant_id, **values)
    session.execute(
        statement.on_conflict_do_update(index_elements=[AlertSettings.restaurant_id], set_=values)
    )
    return tuple(rules)
