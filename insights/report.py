"""What `GET /api/insights`, the CLI's `insights show` and the dashboard read (SPEC §12).

One function, `build_report`, so a page and its JSON endpoint never hold two copies of a
query. It reads only aggregates, in a fixed number of statements whatever the period's
length or the number of events: the period's and the previous period's totals (one
statement), the hours with conversations (heatmap), the keyed counts, the top texts, and
the restaurant's freshness and stored summary.

Other parts of the response come from *sections* (`Section`): each reads what it needs in
a fixed number of statements and may add findings. `orders` (SPEC §13) plugs in as one;
until it does, the response says `"orders": null`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from insights.findings import FUNNEL_STEPS, Figures, Finding, find
from insights.models import MEASURES, HourlyInsight, HourlyInsightKey, HourlyText, RestaurantInsight
from store.models import Restaurant
from store.periods import Period, local_slot
from store.timeutil import iso_z

TOP_TEXTS = 10
# Sections every response carries, null until their provider is plugged in.
RESERVED_SECTIONS = ("orders",)


@dataclass(frozen=True)
class Subject:
    """The restaurant a report is about."""

    restaurant_id: str
    timezone: str
    merchant_id: str


class Section(Protocol):
    """A part of the insights response read by another domain (e.g. `orders`, SPEC §13).

    `read` runs inside the report's read transaction, in a fixed number of statements, and
    returns the section's JSON value (None when it has nothing) and its findings.
    """

    name: str

    def read(
        self, session: Session, subject: Subject, period: Period, *, now: dt.datetime
    ) -> tuple[Any, list[Finding]]: ...


class SummarySource(Protocol):
    """Whether a stored narrative summary may be served now (LLM configured, breaker closed)."""

    def serves_summaries(self) -> bool: ...


@dataclass(frozen=True)
class Stored:
    """The restaurant's freshness and stored summary."""

    fresh_as_of: dt.datetime | None = None
    summary: str | None = None
    summary_first: dt.date | None = None
    summary_last: dt.date | None = None


def subject_of(session: Session, restaurant_id: str) -> Subject | None:
    """Return the restaurant a report is about, or None when there is none (one statement)."""
    found = session.execute(
        select(Restaurant.timezone, Restaurant.merchant_id).where(Restaurant.id == restaurant_id)
    ).first()
    return None if found is None else Subject(restaurant_id, found[0], found[1])


def read_figures(
    session: Session,
    subject: Subject,
    period: Period,
    menu: Sequence[dict[str, Any]] | None,
) -> Figures:
    """Read the period's aggregates (four statements)."""
    start, end = period.utc_hours()
    before_start, _ = period.previous().utc_hours()
    restaurant = HourlyInsight.restaurant_id == subject.restaurant_id
    sums = []
    for measure in MEASURES:
        column = getattr(HourlyInsight, measure)
        sums.append(func.sum(case((HourlyInsight.hour >= start, column), else_=0)))
        sums.append(func.sum(case((HourlyInsight.hour < start, column), else_=0)))
    in_range = (HourlyInsight.hour >= before_start, HourlyInsight.hour < end)
    row = session.execute(select(*sums).where(restaurant, *in_range)).one()
    totals = {m: int(row[2 * n] or 0) for n, m in enumerate(MEASURES)}
    previous = {m: int(row[2 * n + 1] or 0) for n, m in enumerate(MEASURES)}

    heatmap = [[0] * 24 for _ in range(7)]
    for hour, conversations in session.execute(
        select(HourlyInsight.hour, HourlyInsight.conversations).where(
            restaurant,
            HourlyInsight.hour >= start,
            HourlyInsight.hour < end,
            HourlyInsight.conversations > 0,
        )
    ):
        day, local_hour = local_slot(hour, subject.timezone)
        heatmap[day.weekday()][local_hour] += conversations

    keyed: dict[str, dict[str, int]] = {"category": {}, "branch": {}, "error_code": {}}
    for dimension, key, count in session.execute(
        select(HourlyInsightKey.dimension, HourlyInsightKey.key, func.sum(HourlyInsightKey.count))
        .where(
            HourlyInsightKey.restaurant_id == subject.restaurant_id,
            HourlyInsightKey.hour >= start,
            HourlyInsightKey.hour < end,
        )
        .group_by(HourlyInsightKey.dimension, HourlyInsightKey.key)
    ):
        if count:
            keyed.setdefault(dimension, {})[key] = int(count)

    total = func.sum(HourlyText.count)
    text = HourlyText.text
    ordered = text.collate("C") if session.get_bind().dialect.name == "postgresql" else text
    texts = [
        (value, int(count))
        for value, count in session.execute(
            select(text, total)
            .where(
                HourlyText.restaurant_id == subject.restaurant_id,
                HourlyText.hour >= start,
                HourlyText.hour < end,
            )
            .group_by(text)
            .having(total > 0)
            .order_by(total.desc(), ordered)
            .limit(TOP_TEXTS)
        )
    ]
    return Figures(
        totals=totals,
        previous=previous,
        heatmap=heatmap,
        funnel={step: totals[f"reached_{step}"] for step in FUNNEL_STEPS},
        category_opens=keyed["category"],
        error_codes=keyed["error_code"],
        texts=texts,
        menu=_menu(menu),
        extra={"branch_choices": keyed["branch"]},
    )


def read_stored(session: Session, restaurant_id: str) -> Stored:
    """Read the restaurant's freshness and stored summary (one statement)."""
    row = session.execute(
        select(
            RestaurantInsight.fresh_as_of,
            RestaurantInsight.summary,
            RestaurantInsight.summary_first,
            RestaurantInsight.summary_last,
        ).where(RestaurantInsight.restaurant_id == restaurant_id)
    ).first()
    return Stored(*row) if row is not None else Stored()


def build_report(
    session: Session,
    subject: Subject,
    period: Period,
    *,
    now: dt.datetime,
    menu: Sequence[dict[str, Any]] | None,
    summaries: SummarySource | None = None,
    sections: Sequence[Section] = (),
) -> dict[str, Any]:
    """Return the insights of `subject` over `period` in the API's shape (SPEC §12).

    Parameters:
      menu: The merchant's categories as cached (None when not cached): names, and the
        categories nobody opened.
      summaries: Says whether a stored summary may be served; without it, none is.
      sections: Further parts of the response (e.g. `orders`), each with its findings.
    """
    figures = read_figures(session, subject, period, menu)
    stored = read_stored(session, subject.restaurant_id)
    findings = find(figures)
    extra: dict[str, Any] = dict.fromkeys(RESERVED_SECTIONS)
    for section in sections:
        value, more = section.read(session, subject, period, now=now)
        extra[section.name] = value
        findings.extend(more)
    summary = None
    if (
        stored.summary
        and period.is_default(now)
        and (stored.summary_first, stored.summary_last) == (period.first, period.last)
        and summaries is not None
        and summaries.serves_summaries()
    ):
        summary = stored.summary
    totals = figures.totals
    return {
        "restaurantId": subject.restaurant_id,
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "timezone": period.timezone,
        },
        "totals": {
            "conversations": totals["conversations"],
            "newCustomers": totals["new_customers"],
            "returningCustomers": totals["returning_customers"],
            "messagesIn": totals["messages_in"],
            "menuShown": totals["menu_shown"],
            "categoryOpens": totals["category_opens"],
            "branchesShown": totals["branches_shown"],
            "branchChoices": totals["branch_choices"],
            "optOuts": totals["opt_outs"],
            "deliveryFailures": totals["delivery_failures"],
        },
        "funnel": [{"step": step, "conversations": figures.funnel[step]} for step in FUNNEL_STEPS],
        "heatmap": figures.heatmap,
        "categories": categories(figures),
        "unrecognised": [{"text": text, "count": count} for text, count in figures.texts],
        "findings": findings,
        "summary": summary,
        **extra,
        "freshAsOf": iso_z(stored.fresh_as_of),
    }


def categories(figures: Figures) -> list[dict[str, Any]]:
    """Return opened categories, most opened first (then by id), then the cached menu's
    unopened ones with `opens: 0` (by id); names from the cached menu, else null."""
    names = dict(figures.menu or [])
    opened = sorted(figures.category_opens.items(), key=lambda item: (-item[1], item[0]))
    unopened = sorted(cid for cid in names if figures.category_opens.get(cid, 0) == 0)
    return [{"id": cid, "name": names.get(cid), "opens": count} for cid, count in opened] + [
        {"id": cid, "name": names[cid], "opens": 0} for cid in unopened
    ]


def _menu(menu: Sequence[dict[str, Any]] | None) -> list[tuple[str, str | None]] | None:
    if menu is None:
        return None
    listed = []
    for category in menu:
        if category.get("id") is None:
            continue
        name = category.get("name")
        listed.append((str(category["id"]), str(name) if name is not None else None))
    return listed
