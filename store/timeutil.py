"""Time in one place: UTC now, the API's timestamp format, a restaurant's local calendar."""

from __future__ import annotations

import datetime as dt
import time
from functools import lru_cache
from zoneinfo import ZoneInfo


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def iso_z(moment: dt.datetime | None) -> str | None:
    """Format as ISO 8601 UTC with milliseconds and `Z` (`2025-10-20T15:30:00.000Z`)."""
    if moment is None:
        return None
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso_z(value: str) -> dt.datetime:
    """Parse an ISO 8601 timestamp that carries an offset or `Z`; raise ValueError otherwise."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return moment.astimezone(dt.UTC)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """Return the IANA zone `name` (cached: ZoneInfo lookups show up on hot paths)."""
    return ZoneInfo(name)


def local_date(moment: dt.datetime, timezone: str) -> dt.date:
    """Return the calendar date of `moment` in `timezone`."""
    return moment.astimezone(zone(timezone)).date()


def previous_months(year: int, month: int, count: int) -> list[tuple[int, int]]:
    """Return `count` (year, month) pairs ending with the given month, newest first."""
    months = []
    for _ in range(count):
        months.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


class AtMostEvery:
    """Answer True at most once every `seconds` (a warning that must show, not flood)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = float("-inf")

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.seconds:
            return False
        self._last = now  # a race between threads costs at most one more warning
        return True
