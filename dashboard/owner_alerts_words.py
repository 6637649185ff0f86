"""The Alerts page in an owner's words: each rule as a sentence with its limit and when it
last fired, the rules form as typed, the delivery log with channel names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alerts.models import AlertChannel
from alerts.rules import DAILY_MESSAGES, MONTHLY_CONVERSATIONS, PACE, Rule
from store.timeutil import parse_iso_z

EVENT_WORDS = {
    "test": "Test",
    "usage.threshold_reached": "A limit threshold was reached",
    "usage.pace_exceeds": "On pace to reach the monthly limit",
    "import.completed": "Order import finished",
    "import.failed": "Order import failed",
}
CHANNEL_WORDS = {"webhook": "Webhook", "email": "E-mail", "whatsapp": "WhatsApp"}
STATUS_WORDS = {
    "pending": "waiting to be sent (or to be tried again)",
    "delivered": "delivered",
    "failed": "refused for good, not retried",
    "dead": "gave up after every retry",
}


@dataclass(frozen=True)
class RuleRow:
    """One rule as the form shows it: the threshold as stored or as typed."""

    metric: str
    threshold: str
    enabled: bool

    def as_input(self) -> dict[str, Any]:
        """Return the rule as `PUT /api/alerts/rules` takes it (the API validates it)."""
        threshold: Any = self.threshold.strip()
        if self.metric == PACE and threshold == "":
            threshold = None
        elif threshold.isascii() and threshold.isdigit():
            threshold = int(threshold)
        elif threshold == "":
            threshold = None
        return {"metric": self.metric, "threshold": threshold, "enabled": self.enabled}


@dataclass(frozen=True)
class Figures:
    """The limits and usage the sentences quote, and this period's firings."""

    daily_limit: int
    daily_used: int
    monthly_limit: int
    monthly_used: int
    fired: Mapping[tuple[str, int], dt.datetime]


@dataclass(frozen=True)
class RuleWords:
    """A rule as a sentence: `before [threshold] after`, a note, when it last fired."""

    row: RuleRow
    before: str
    after: str
    note: str
    period: str  # "today" or "this month"
    fired_at: dt.datetime | None


def rule_rows(rules: Sequence[Rule]) -> list[RuleRow]:
    """Return stored rules as form rows."""
    return [
        RuleRow(r.metric, "" if r.threshold is None else str(r.threshold), r.enabled) for r in rules
    ]


def rule_rows_from_form(form: Mapping[str, str], most: int) -> list[RuleRow]:
    """Return the rows the rules form sent: `rule-N-metric|threshold|enabled` for the rows
    shown (`rules` of them), and the "add one" row when a metric was chosen."""
    count = form.get("rules", "0")
    shown = min(int(count), most + 1) if count.isascii() and count.isdigit() else 0
    rows = [
        RuleRow(
            form.get(f"rule-{n}-metric", ""),
            form.get(f"rule-{n}-threshold", "")[:20],
            form.get(f"rule-{n}-enabled") == "on",
        )
        for n in range(shown)
    ]
    if form.get("new-metric"):
        rows.append(RuleRow(form["new-metric"], form.get("new-threshold", "")[:20], True))
    return rows


def describe(row: RuleRow, figures: Figures) -> RuleWords:
    """Return the rule in an owner's words, with its limit and this period's firing."""
    threshold = row.as_input()["threshold"]
    if row.metric == PACE:
        note = (
            f"Judged on the conversations of the last 7 days; {figures.monthly_used:,} of"
            f" {figures.monthly_limit:,} so far this month."
        )
        return RuleWords(
            row,
            "this month’s conversations are on pace to reach the monthly limit before the"
            " month ends",
            "",
            note,
            "this month",
            figures.fired.get((PACE, 0)),
        )
    daily = row.metric == DAILY_MESSAGES
    limit = figures.daily_limit if daily else figures.monthly_limit
    used = figures.daily_used if daily else figures.monthly_used
    unit = "messages" if daily else "conversations"
    note = f"{used:,} {unit} so far {'today' if daily else 'this month'}."
    if isinstance(threshold, int) and 1 <= threshold <= 100 and limit > 0:
        at = -(-threshold * limit // 100)  # fires once used × 100 ≥ threshold × limit
        note = f"That is {at:,} of {limit:,} {unit}; " + note
    fired = figures.fired.get((row.metric, threshold)) if isinstance(threshold, int) else None
    if row.metric == MONTHLY_CONVERSATIONS:
        return RuleWords(
            row,
            "this month’s conversations reach",
            "% of the monthly limit",
            note,
            "this month",
            fired,
        )
    return RuleWords(row, "today’s messages reach", "% of the daily limit", note, "today", fired)


@dataclass(frozen=True)
class DeliveryRow:
    """One line of the delivery log, as the page shows it."""

    item: dict[str, Any]
    created_at: dt.datetime | None
    delivered_at: dt.datetime | None
    event: str
    channel: AlertChannel | None


def delivery_rows(
    items: Sequence[dict[str, Any]], channels: Sequence[AlertChannel]
) -> list[DeliveryRow]:
    """Return `GET /api/notifications` items with their times and channels."""
    by_id = {channel.id: channel for channel in channels}
    return [
        DeliveryRow(
            item=item,
            created_at=_time(item["createdAt"]),
            delivered_at=_time(item["deliveredAt"]),
            event=EVENT_WORDS.get(item["type"], item["type"]),
            channel=by_id.get(item["channelId"] or ""),
        )
        for item in items
    ]


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else parse_iso_z(value)
