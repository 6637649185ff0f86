"""Outbound messages that failed for good, by error code: what an owner reads (SPEC §14).

One read, `failure_report`, for the owner's "Messages that failed" page and any JSON or CLI
reader: the restaurant (one statement), then its failures in the period grouped by the
stored error code, each group with its count, its latest failure and its few latest
examples (one statement, whatever the number of messages).

Which rows: outbound messages in state `failed` or `undelivered` (the outbox gave up, or
a status callback said so), written in the period. They are read through the partial
index `ix_messages_failed` (restaurant, created_at — failed outbound rows only, migration
0009): the statement repeats the index's predicate (`store.models.FAILED_OUTBOUND`), so
it reads the period's failed rows alone, whatever the restaurant's traffic. Without it
the best plan walked every message of the period (`ix_messages_restaurant_id_created_at`):
41 ms at p50 for a week, 119 ms for 30 days at a restaurant with 3,000 messages a day
(bench/owner_failures.py). A message that fails after its period ends still counts in the
period it was written in (a status callback comes seconds or minutes later).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.failure_advice import NO_CODE, Advice, advice_for
from store.models import FAILED_OUTBOUND, Customer, Message, Restaurant
from store.periods import Period, default_period

# The periods an owner picks from, in days (the last N local days, today included).
PERIODS = (7, 30)
# Latest failures shown per code.
EXAMPLES = 3


@dataclass(frozen=True)
class RecentFailure:
    """One failed message, as an owner may see it: when, and to whom (masked)."""

    at: dt.datetime
    customer: str


@dataclass(frozen=True)
class CodeFailures:
    """The period's failures with one error code."""

    advice: Advice
    failures: int
    last_at: dt.datetime
    recent: list[RecentFailure]


@dataclass(frozen=True)
class FailureReport:
    """A restaurant's failed messages in a period, most frequent code first."""

    restaurant_id: str
    restaurant_name: str
    timezone: str
    period: Period
    groups: list[CodeFailures]

    @property
    def failures(self) -> int:
        """Return how many messages failed in the period."""
        return sum(group.failures for group in self.groups)


def failure_report(
    session: Session, restaurant_id: str, *, days: int, now: dt.datetime
) -> FailureReport | None:
    """Return the restaurant's failed messages over the last `days` local days (today
    included), or None when there is no such restaurant (two statements)."""
    found = session.execute(
        select(Restaurant.name, Restaurant.timezone).where(Restaurant.id == restaurant_id)
    ).first()
    if found is None:
        return None
    name, timezone = found
    period = default_period(now, timezone, days)
    start, end = period.utc_hours()
    return FailureReport(
        restaurant_id, name, timezone, period, failures_by_code(session, restaurant_id, start, end)
    )


def failures_by_code(
    session: Session,
    restaurant_id: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    examples: int = EXAMPLES,
) -> list[CodeFailures]:
    """Return the outbound messages written in [start, end) that failed, grouped by error
    code: most failures first, then by code (one statement)."""
    code = func.coalesce(Message.error_code, NO_CODE)  # one group, and one order, for "none"
    latest_first = (Message.updated_at.desc(), Message.id.desc())
    failed = (
        select(
            code.label("code"),
            Message.updated_at.label("at"),
            Message.customer_id.label("customer_id"),
            func.count().over(partition_by=code).label("failures"),
            func.max(Message.updated_at).over(partition_by=code).label("last_at"),
            func.row_number().over(partition_by=code, order_by=latest_first).label("rank"),
        )
        .where(
            Message.restaurant_id == restaurant_id,
            Message.created_at >= start,
            Message.created_at < end,
            text(FAILED_OUTBOUND),  # the final failure states (`bot.delivery_status.FAILURES`)
        )
        .subquery()
    )
    rows = session.execute(
        select(failed.c.code, failed.c.failures, failed.c.last_at, failed.c.at, Customer.address)
        .outerjoin(Customer, Customer.id == failed.c.customer_id)
        .where(failed.c.rank <= examples)
        .order_by(failed.c.failures.desc(), failed.c.code, failed.c.rank)
    )
    groups: dict[str, CodeFailures] = {}
    for row in rows:
        group = groups.get(row.code)
        if group is None:
            group = groups[row.code] = CodeFailures(
                advice_for(row.code), int(row.failures), row.last_at, []
            )
        group.recent.append(RecentFailure(row.at, masked(row.address)))
    return list(groups.values())


def masked(address: str | None) -> str:
    """Return a customer's address with its middle hidden: `+9665…67`.

    Enough to tell two customers apart, never enough to write to them. An address may be a
    phone number or an opaque WhatsApp id; short ones are hidden whole.
    """
    if not address:
        return "a former customer"
    return f"{address[:5]}…{address[-2:]}" if len(address) >= 10 else "…"
