"""What `GET /api/insights`, the CLI's `insights show` and the dashboard read (SPEC §12).

One function, `build_report`, so a page and its JSON endpoint never hold two copies of a
query. It reads only aggregates, in a fixed number of statements whatever the period's
length or the number of events: the period's and the previous period's totals (one
statement), the hours with conversations (heatmap), the keyed counts, the top texts, and
the restaurant's freshness and stored summary.

Other parts of the response come from *sections* (`Section`, listed in `SECTIONS`): each
reads what it needs in a fixed number of statements and may add findings. `orders` (SPEC
§13, `imports.insights.OrdersSection`) is one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Date, bindparam, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from imports.insights import OrdersSection
from insights.findings import FUNNEL_STEPS, Figures, Finding, find
from insights.models import (
    HOURS_OF_DAY,
    MEASURES,
    DailyInsight,
    DailyInsightKey,
    DailyStarts,
    HourlyInsight,
    HourlyInsightKey,
    HourlyText,
    RestaurantInsight,
)
from store.models import Restaurant
from store.periods import HOUR, Period, local_slot
from store.timeutil import iso_z, zone

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


# The sections every report reads: SPEC §13's order history fills `"orders"` (null until
# an import has ever succeeded) and adds its findings (`top_items`, `peak_order_hours`,
# `slow_hours`).
SECTIONS: tuple[Section, ...] = (OrdersSection(),)


def subject_of(session: Session, restaurant_id: str) -> Subject | None:
    """Return the restaurant a report is about, or None when there is none (one statement)."""
    found = session.execute(
        select(Restaurant.timezone, Restaurant.merchant_id).where(Restaurant.id == restaurant_id)
    ).first()
    return None if found is None else Subject(restaurant_id, found[0], found[1])


@dataclass(frozen=True)
class Span:
    """A period's UTC hours as they are read: its whole UTC days from the daily rows, the
    hours before the first and after the last whole day from the hourly rows."""

    start: dt.datetime
    end: dt.datetime
    first_day: dt.date  # whole days: [first_day, end_day), possibly empty
    end_day: dt.date
    head_end: dt.datetime  # hourly rows [start, head_end) and [tail_start, end)
    tail_start: dt.datetime

    @classmethod
    def of(cls, start: dt.datetime, end: dt.datetime) -> Span:
        """Return the span of the UTC hours [start, end)."""
        first = start.date() if start.hour == 0 else start.date() + dt.timedelta(days=1)
        last = end.date()
        if first >= last:  # no whole day inside: the hourly rows alone
            return cls(start, end, first, first, end, end)
        return cls(start, end, first, last, _midnight(first), _midnight(last))

    def parameters(self, prefix: str = "") -> dict[str, Any]:
        """Return the bound parameters of the span's range conditions."""
        return {
            f"{prefix}first_day": self.first_day,
            f"{prefix}end_day": self.end_day,
            f"{prefix}start": self.start,
            f"{prefix}head_end": self.head_end,
            f"{prefix}tail_start": self.tail_start,
            f"{prefix}end": self.end,
        }


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _hours(model: Any, prefix: str) -> tuple[Any, Any]:
    """Return the range conditions of a span's head and tail hours on `model.hour`."""
    hour_type = HourlyInsight.hour.type
    head = (
        model.hour >= bindparam(f"{prefix}start", type_=hour_type),
        model.hour < bindparam(f"{prefix}head_end", type_=hour_type),
    )
    tail = (
        model.hour >= bindparam(f"{prefix}tail_start", type_=hour_type),
        model.hour < bindparam(f"{prefix}end", type_=hour_type),
    )
    return head, tail


def _days(model: Any, prefix: str) -> tuple[Any, Any]:
    return (
        model.day >= bindparam(f"{prefix}first_day", type_=Date()),
        model.day < bindparam(f"{prefix}end_day", type_=Date()),
    )


@cache
def _statements(dialect: str) -> dict[str, Any]:
    """Build the report's statements once per dialect, with bound parameters."""
    restaurant: Any = bindparam("restaurant_id")
    parts = []
    for which, prefix in ((0, ""), (1, "previous_")):
        tag: Any = literal_column(str(which)).label("which")
        head, tail = _hours(HourlyInsight, prefix)
        hourly_measures = [getattr(HourlyInsight, m) for m in MEASURES]
        parts += [
            select(tag, *[getattr(DailyInsight, m) for m in MEASURES]).where(
                DailyInsight.restaurant_id == restaurant, *_days(DailyInsight, prefix)
            ),
            select(tag, *hourly_measures).where(HourlyInsight.restaurant_id == restaurant, *head),
            select(tag, *hourly_measures).where(HourlyInsight.restaurant_id == restaurant, *tail),
        ]
    rows = union_all(*parts).subquery()
    totals = select(rows.c.which, *[func.sum(rows.c[m]) for m in MEASURES]).group_by(rows.c.which)

    head, tail = _hours(HourlyInsightKey, "")
    keyed_rows = union_all(
        select(DailyInsightKey.dimension, DailyInsightKey.key, DailyInsightKey.count).where(
            DailyInsightKey.restaurant_id == restaurant, *_days(DailyInsightKey, "")
        ),
        select(HourlyInsightKey.dimension, HourlyInsightKey.key, HourlyInsightKey.count).where(
            HourlyInsightKey.restaurant_id == restaurant, *head
        ),
        select(HourlyInsightKey.dimension, HourlyInsightKey.key, HourlyInsightKey.count).where(
            HourlyInsightKey.restaurant_id == restaurant, *tail
        ),
    ).subquery()
    keys = select(keyed_rows.c.dimension, keyed_rows.c.key, func.sum(keyed_rows.c.count)).group_by(
        keyed_rows.c.dimension, keyed_rows.c.key
    )

    hour_type = HourlyInsight.hour.type
    # Every UTC day the period touches, its edge days too (their hours are picked when read).
    heatmap = select(DailyStarts.day, *[getattr(DailyStarts, h) for h in HOURS_OF_DAY]).where(
        DailyStarts.restaurant_id == restaurant,
        DailyStarts.day >= bindparam("first_touched", type_=Date()),
        DailyStarts.day <= bindparam("last_touched", type_=Date()),
    )

    total = func.sum(HourlyText.count)
    text = HourlyText.text
    ordered = text.collate("C") if dialect == "postgresql" else text
    texts = (
        select(text, total)
        .where(
            HourlyText.restaurant_id == restaurant,
            HourlyText.hour >= bindparam("start", type_=hour_type),
            HourlyText.hour < bindparam("end", type_=hour_type),
        )
        .group_by(text)
        .having(total > 0)
        .order_by(total.desc(), ordered)
        .limit(TOP_TEXTS)
    )
    return {"totals": totals, "keys": keys, "heatmap": heatmap, "texts": texts}


def add_starts(
    heatmap: list[list[int]],
    day: dt.date,
    by_hour: Sequence[int],
    timezone: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
) -> None:
    """Add one UTC day's conversation starts (per UTC hour) that fall in [start, end) to
    the local weekday × hour heatmap (SPEC §12's rounding for zones off whole hours)."""
    midnight = _midnight(day)
    local_zone = zone(timezone)
    offset = midnight.astimezone(local_zone).utcoffset()
    steady = offset == (midnight + 23 * HOUR).astimezone(local_zone).utcoffset()
    whole_day = start <= midnight and midnight + 24 * HOUR <= end
    if steady and offset is not None:
        slots = _slots(int(offset.total_seconds()) // 60, day.weekday())
    for hour, count in enumerate(by_hour):
        if not count:
            continue
        if not whole_day and not start <= midnight + hour * HOUR < end:
            continue
        if steady:
            weekday, local_hour = slots[hour]
        else:  # the day the clocks change
            local_day, local_hour = local_slot(midnight + hour * HOUR, timezone)
            weekday = local_day.weekday()
        heatmap[weekday][local_hour] += count


@cache
def _slots(offset_minutes: int, weekday: int) -> tuple[tuple[int, int], ...]:
    """Return the local (weekday, hour) of each UTC hour of a day that starts on `weekday`
    (UTC) in a zone `offset_minutes` ahead all day: the local hour that begins inside it."""
    slots = []
    for hour in range(24):
        local = -(-(hour * 60 + offset_minutes) // 60)  # rounded up to a whole local hour
        slots.append(((weekday + local // 24) % 7, local % 24))
    return tuple(slots)


def read_figures(
    session: Session,
    subject: Subject,
    period: Period,
    menu: Sequence[dict[str, Any]] | None,
) -> Figures:
    """Read the period's aggregates (four statements, built once per dialect)."""
    dialect = session.get_bind().dialect.name
    sql = _statements(dialect)
    start, end = period.utc_hours()
    current = Span.of(start, end)
    previous = Span.of(*period.previous().utc_hours())
    parameters = {
        "restaurant_id": subject.restaurant_id,
        "timezone": subject.timezone,
        **current.parameters(),
        **previous.parameters("previous_"),
    }
    sums = {int(row[0]): row[1:] for row in session.execute(sql["totals"], parameters)}
    zeros = (0,) * len(MEASURES)
    totals = {m: int(v or 0) for m, v in zip(MEASURES, sums.get(0, zeros), strict=True)}
    previous_totals = {m: int(v or 0) for m, v in zip(MEASURES, sums.get(1, zeros), strict=True)}

    heatmap = [[0] * 24 for _ in range(7)]
    last_touched = (end - HOUR).date()
    started = session.execute(
        sql["heatmap"],
        {**parameters, "first_touched": start.date(), "last_touched": last_touched},
    )
    for day, *by_hour in started:
        add_starts(heatmap, day, by_hour, subject.timezone, start=start, end=end)

    keyed: dict[str, dict[str, int]] = {"category": {}, "branch": {}, "error_code": {}}
    for dimension, key, count in session.execute(sql["keys"], parameters):
        if count:
            keyed.setdefault(dimension, {})[key] = int(count)

    texts = [(value, int(count)) for value, count in session.execute(sql["texts"], parameters)]
    return Figures(
        totals=totals,
        previous=previous_totals,
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
    sections: Sequence[Section] | None = None,
) -> dict[str, Any]:
    """Return the insights of `subject` over `period` in the API's shape (SPEC §12).

    Parameters:
      menu: The merchant's categories as cached (None when not cached): names, and the
        categories nobody opened.
      summaries: Says whether a stored summary may be served; without it, none is.
      sections: Further parts of the response, each with its findings; `SECTIONS` when
        None (the API, the CLI and the dashboard all read the same).
    """
    figures = read_figures(session, subject, period, menu)
    stored = read_stored(session, subject.restaurant_id)
    findings = find(figures)
    extra: dict[str, Any] = dict.fromkeys(RESERVED_SECTIONS)
    for section in SECTIONS if sections is None else sections:
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
