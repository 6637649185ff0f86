"""What an `import_orders` job is asked to do, and the day chunks of its period.

The payload is `{"restaurant_id", "days", "until"}`: `until` is the moment the import was
requested (ISO 8601 UTC with milliseconds and `Z`), fixed in the message so that every
retry and replay reads the same period, `[until − days × 24 h, until)`. That period is
walked as `days` chunks of 24 hours, oldest first; the last one ends at `until`, so it
holds today up to the moment of the request.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from store.timeutil import iso_z, parse_iso_z

MIN_DAYS = 1
MAX_DAYS = 365
DEFAULT_DAYS = 30
DAY = dt.timedelta(days=1)
_ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_KEYS = {"restaurant_id", "days", "until"}


class InvalidPayload(ValueError):
    """The job's arguments are malformed; retrying cannot help."""


@dataclass(frozen=True)
class Chunk:
    """One day of an import: `day` counts from 1 (the oldest) to the period's `days`."""

    day: int
    since: dt.datetime
    until: dt.datetime


@dataclass(frozen=True)
class ImportRequest:
    """Import `days` days of a restaurant's orders, ending at `until`."""

    restaurant_id: str
    days: int
    until: dt.datetime

    @property
    def since(self) -> dt.datetime:
        """Return the start of the period (included)."""
        return self.until - self.days * DAY

    def chunks(self) -> list[Chunk]:
        """Return the period's day chunks, oldest first."""
        since = self.since
        return [
            Chunk(day, since + (day - 1) * DAY, since + day * DAY)
            for day in range(1, self.days + 1)
        ]

    def payload(self) -> dict[str, Any]:
        """Return the job's keyword arguments."""
        return {"restaurant_id": self.restaurant_id, "days": self.days, "until": iso_z(self.until)}

    @classmethod
    def at(cls, restaurant_id: str, days: int, now: dt.datetime) -> ImportRequest:
        """Return the request for the `days` days ending `now` (to the millisecond)."""
        until = now.astimezone(dt.UTC)
        until = until.replace(microsecond=until.microsecond // 1000 * 1000)
        return cls(restaurant_id, days, until)

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> ImportRequest:
        """Return the request a job's keyword arguments describe.

        Raises:
          InvalidPayload: A missing or unexpected argument, or one of the wrong shape.
        """
        keys = set(payload)
        if keys != _KEYS:
            missing, extra = sorted(_KEYS - keys), sorted(keys - _KEYS)
            raise InvalidPayload(f"expected {sorted(_KEYS)}; missing {missing}, unexpected {extra}")
        restaurant_id, days, until = payload["restaurant_id"], payload["days"], payload["until"]
        if not isinstance(restaurant_id, str) or not restaurant_id.strip():
            raise InvalidPayload(f"restaurant_id must be a non-empty string, not {restaurant_id!r}")
        if not is_days(days):
            raise InvalidPayload(
                f"days must be a whole number {MIN_DAYS}..{MAX_DAYS}, not {days!r}"
            )
        if not isinstance(until, str) or not _ISO_MS_Z.fullmatch(until):
            raise InvalidPayload(f"until must be ISO 8601 UTC with milliseconds, not {until!r}")
        try:
            moment = parse_iso_z(until)
        except ValueError:
            raise InvalidPayload(f"until is not a time: {until!r}") from None
        return cls(restaurant_id, days, moment)


def is_days(value: object) -> bool:
    """Return True when `value` is a whole number of days an import may cover."""
    return isinstance(value, int) and not isinstance(value, bool) and MIN_DAYS <= value <= MAX_DAYS
