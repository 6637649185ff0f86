"""Reporting periods: a restaurant's local calendar days, and the UTC hours that hold them.

Aggregates (conversation events, orders) are kept per restaurant and UTC hour; owners
ask in local days. A local day is the run of UTC hours from the one that contains its
local midnight up to, not including, the one that contains the next local midnight. For
zones whose offset is whole hours that is exact; for the others (Asia/Kolkata +5:30,
Asia/Kathmandu +5:45, America/St_Johns −3:30) the boundary is rounded down to the UTC
hour that contains it (SPEC §12), and each UTC hour is read as the local hour that begins
inside it — so a day's hours and the hours' days always agree.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from store.timeutil import local_date, zone

DEFAULT_DAYS = 7
MAX_DAYS = 366
HOUR = dt.timedelta(hours=1)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class PeriodError(ValueError):
    """A period that cannot be served; the message says why (a `400 invalid_parameter`)."""


def utc_hour(moment: dt.datetime) -> dt.datetime:
    """Return the start of the UTC hour that contains `moment`."""
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def day_start(day: dt.date, timezone: str) -> dt.datetime:
    """Return the first UTC hour of local `day` (the one containing its local midnight)."""
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone(timezone))
    return utc_hour(midnight)


def local_slot(hour: dt.datetime, timezone: str) -> tuple[dt.date, int]:
    """Return the local (date, hour of day) that the UTC hour starting at `hour` stands for.

    That is the local hour which begins inside it: in a zone at +5:30 the UTC hour 18:00
    (local 23:30–00:30) stands for 00:00 of the next local day.
    """
    local = hour.astimezone(zone(timezone))
    if local.minute or local.second:
        local = local.replace(minute=0, second=0, microsecond=0) + HOUR
    return local.date(), local.hour


@dataclass(frozen=True)
class Period:
    """Local calendar days `first`..`last` (both included) in `timezone`."""

    first: dt.date
    last: dt.date
    timezone: str

    @property
    def days(self) -> int:
        """Return how many local days the period has."""
        return (self.last - self.first).days + 1

    def utc_hours(self) -> tuple[dt.datetime, dt.datetime]:
        """Return the UTC hours that hold the period: [first hour, end hour)."""
        return (
            day_start(self.first, self.timezone),
            day_start(self.last + dt.timedelta(days=1), self.timezone),
        )

    def previous(self) -> Period:
        """Return the period of equal length that ends the day before this one starts."""
        last = self.first - dt.timedelta(days=1)
        return Period(last - dt.timedelta(days=self.days - 1), last, self.timezone)

    def is_default(self, now: dt.datetime) -> bool:
        """Return True when this is the default period (the last 7 local days) at `now`."""
        return self == default_period(now, self.timezone)


def default_period(now: dt.datetime, timezone: str, days: int = DEFAULT_DAYS) -> Period:
    """Return the `days` local days ending today (today included)."""
    today = local_date(now, timezone)
    return Period(today - dt.timedelta(days=days - 1), today, timezone)


def parse_period(
    raw_from: str | None, raw_to: str | None, *, now: dt.datetime, timezone: str
) -> Period:
    """Return the period of `?from=&to=` (local `YYYY-MM-DD`, inclusive).

    Without `to` the period ends today; without `from` it is the 7 days ending `to`.

    Raises:
      PeriodError: A date that is not `YYYY-MM-DD`, `from` after `to`, or more than 366 days.
    """
    last = _parse_day("to", raw_to) if raw_to is not None else local_date(now, timezone)
    if raw_from is None:
        first = last - dt.timedelta(days=DEFAULT_DAYS - 1)
    else:
        first = _parse_day("from", raw_from)
    if first > last:
        raise PeriodError(f"'from' ({first}) is after 'to' ({last})")
    period = Period(first, last, timezone)
    if period.days > MAX_DAYS:
        raise PeriodError(f"the period has {period.days} days; at most {MAX_DAYS} are allowed")
    return period


def _parse_day(name: str, raw: str) -> dt.date:
    if not _DATE.fullmatch(raw):
        raise PeriodError(f"'{name}' must be a date as YYYY-MM-DD, got {raw[:40]!r}")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(f"'{name}' is not a calendar date: {raw!r}") from None
