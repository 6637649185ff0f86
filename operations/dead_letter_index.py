"""The SQL index of the broker's dead letters: filters, counts and pages without decoding.

Dramatiq keeps dead letters in Redis as encoded messages; finding those of one error
class would mean decoding every one. So each letter also has a row here, written when a
worker moves it to the dead letters (`actors.middleware.dead_letter_index`), removed when
it is replayed or deleted, and reconciled with Redis every minute
(`actors.dead_letter_bulk.reconcile_index`): Dramatiq's 7-day expiry and letters moved while
the database was down. Rows are keyed by message id and carry the letter's Redis id, so a
row is only ever removed for the letter it describes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, tuple_
from sqlalchemy.orm import Session

from operations.error_classes import ERROR_CLASS, MAX_LENGTH
from operations.models import IndexedDeadLetter
from store.dialects import upsert_for
from store.timeutil import iso_z

# Names of the filter's keys in the API (query string and the bulk body's "filter").
FILTER_KEYS = ("actor", "restaurantId", "errorClass", "after", "before")


class FilterError(ValueError):
    """A filter value is malformed; the message names the key."""


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters: every given key must match (None: any).

    Parameters:
      after: Dead-lettered at or after this time.
      before: Dead-lettered before this time.
    """

    actor: str | None = None
    restaurant_id: str | None = None
    error_class: str | None = None
    after: dt.datetime | None = None
    before: dt.datetime | None = None

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> DeadLetterFilter:
        """Return the filter named by API keys (`actor`, `restaurantId`, `errorClass`,
        `after`, `before`); empty values mean "any".

        Raises:
          FilterError: For an unknown key, a value that is not a string, a malformed
            error class or a time that is not ISO 8601.
        """
        unknown = sorted(set(values) - set(FILTER_KEYS))
        if unknown:
            raise FilterError(
                f"unknown filter key {unknown[0]!r} (expected {', '.join(FILTER_KEYS)})"
            )
        texts: dict[str, str | None] = {}
        for key in FILTER_KEYS:
            value = values.get(key)
            if value is not None and not isinstance(value, str):
                raise FilterError(f"{key} must be a string")
            value = (value or "").strip() or None
            if value is not None and ("\x00" in value or len(value) > 200):
                raise FilterError(f"{key} is not a valid value")
            texts[key] = value
        error_class = texts["errorClass"]
        if error_class is not None and (
            len(error_class) > MAX_LENGTH or not ERROR_CLASS.match(error_class)
        ):
            raise FilterError("errorClass must be an exception class name, e.g. CatalogUnavailable")
        return cls(
            actor=texts["actor"],
            restaurant_id=texts["restaurantId"],
            error_class=error_class,
            after=parse_time("after", texts["after"]),
            before=parse_time("before", texts["before"]),
        )

    @property
    def is_empty(self) -> bool:
        """Return True when the filter matches every letter."""
        return all(getattr(self, f.name) is None for f in fields(self))

    def to_json(self) -> dict[str, str]:
        """Return the filter as the API names it (only the keys that are set)."""
        values = {
            "actor": self.actor,
            "restaurantId": self.restaurant_id,
            "errorClass": self.error_class,
            "after": iso_z(self.after),
            "before": iso_z(self.before),
        }
        return {key: value for key, value in values.items() if value is not None}

    def conditions(self) -> list[ColumnElement[bool]]:
        """Return the SQL conditions of this filter."""
        row = IndexedDeadLetter
        found: list[ColumnElement[bool]] = []
        if self.actor is not None:
            found.append(row.actor == self.actor)
        if self.restaurant_id is not None:
            found.append(row.restaurant_id == self.restaurant_id)
        if self.error_class is not None:
            found.append(row.error_class == self.error_class)
        if self.after is not None:
            found.append(row.dead_lettered_at >= self.after)
        if self.before is not None:
            found.append(row.dead_lettered_at < self.before)
        return found


# ISO 8601 as the filters take it: a date (midnight UTC), or a date and time (seconds and
# fraction optional) with `Z` or an offset; RFC 3339's lower-case `t`/`z` too.
_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt](?P<clock>[0-9]{2}:[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?)?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2}))?"
)


def parse_time(name: str, value: str | None) -> dt.datetime | None:
    """Parse an ISO 8601 time with its offset, or a date (midnight UTC).

    Raises:
      FilterError: When `value` is not ISO 8601.
    """
    if value is None:
        return None
    match = _TIME.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        parts = match.groupdict()
        # A leap second (RFC 3339 allows :60) is the last second of its minute here.
        second = min(int(parts["second"] or 0), 59)
        fraction = (parts["fraction"] or "")[:6].ljust(6, "0")
        zone = (parts["zone"] or "Z").upper().replace("Z", "+00:00")
        moment = dt.datetime.fromisoformat(
            f"{parts['date']}T{parts['clock'] or '00:00'}:{second:02d}.{fraction}{zone}"
        )
    except ValueError:
        raise FilterError(
            f"{name} must be an ISO 8601 time, e.g. 2025-10-20T15:30:00Z; got {value!r}"
        ) from None
    return moment.astimezone(dt.UTC)


@dataclass(frozen=True)
class LetterAddress:
    """Where a letter lives in Redis."""

    message_id: str
    queue: str
    redis_id: str


def count(session: Session, letters: DeadLetterFilter, *, limit: int | None = None) -> int:
    """Return how many dead letters match (with `limit`: at most `limit` + 1)."""
    if limit is None:
        query = select(func.count()).select_from(IndexedDeadLetter).where(*letters.conditions())
    else:
        capped = (
            select(IndexedDeadLetter.message_id)
            .where(*letters.conditions())
            .limit(limit + 1)
            .subquery()
        )
        query = select(func.count()).select_from(capped)
    return int(session.scalar(query) or 0)


def page(
    session: Session, letters: DeadLetterFilter, *, limit: int, offset: int
) -> list[IndexedDeadLetter]:
    """Return one page of matching letters, most recently dead first."""
    query = (
        select(IndexedDeadLetter)
        .where(*letters.conditions())
        .order_by(IndexedDeadLetter.dead_lettered_at.desc(), IndexedDeadLetter.message_id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


def addresses(session: Session, letters: DeadLetterFilter) -> list[LetterAddress]:
    """Return where every matching letter lives (a bulk action's snapshot)."""
    query = (
        select(IndexedDeadLetter.message_id, IndexedDeadLetter.queue, IndexedDeadLetter.redis_id)
        .where(*letters.conditions())
        .order_by(IndexedDeadLetter.message_id)
    )
    return [LetterAddress(*row) for row in session.execute(query)]


def addresses_of(session: Session, message_ids: Sequence[str]) -> list[LetterAddress]:
    """Return where the letters of these message ids live (unknown ids are left out)."""
    found: list[LetterAddress] = []
    for start in range(0, len(message_ids), 500):
        chunk = list(message_ids[start : start + 500])
        query = select(
            IndexedDeadLetter.message_id, IndexedDeadLetter.queue, IndexedDeadLetter.redis_id
        ).where(IndexedDeadLetter.message_id.in_(chunk))
        found.extend(LetterAddress(*row) for row in session.execute(query))
    return found


def facets(session: Session, column: str, *, limit: int = 50) -> list[tuple[str, int]]:
    """Return the most common values of `actor` or `error_class` with their counts."""
    attribute = {"actor": IndexedDeadLetter.actor, "error_class": IndexedDeadLetter.error_class}[
        column
    ]
    query = (
        select(attribute, func.count())
        .group_by(attribute)
        .order_by(func.count().desc(), attribute)
        .limit(limit)
    )
    return [(str(value), int(n)) for value, n in session.execute(query)]


def queues(session: Session) -> list[str]:
    """Return the queues that have indexed letters."""
    return [str(q) for q in session.scalars(select(IndexedDeadLetter.queue).distinct())]


def ids_in_queue(session: Session, queue: str) -> dict[str, str]:
    """Return redis id → message id of the letters indexed for `queue`."""
    query = select(IndexedDeadLetter.redis_id, IndexedDeadLetter.message_id).where(
        IndexedDeadLetter.queue == queue
    )
    return {str(redis_id): str(message_id) for redis_id, message_id in session.execute(query)}


def upsert(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Insert or refresh index rows (keys: the model's columns); return how many."""
    rows = list(rows)
    if not rows:
        return 0
    insert = upsert_for(session.get_bind().dialect.name)
    for start in range(0, len(rows), 500):
        statement = insert(IndexedDeadLetter).values(rows[start : start + 500])
        columns = {name: statement.excluded[name] for name in rows[0] if name != "message_id"}
        session.execute(
            statement.on_conflict_do_update(index_elements=["message_id"], set_=columns)
        )
    return len(rows)


def insert_missing(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert index rows whose message has none (existing rows are left as they are)."""
    insert = upsert_for(session.get_bind().dialect.name)
    for start in range(0, len(rows), 500):
        session.execute(
            insert(IndexedDeadLetter)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing(index_elements=["message_id"])
        )


def forget(session: Session, letters: Iterable[LetterAddress]) -> int:
    """Remove the rows of these letters (a row of the same message with another Redis id —
    dead-lettered again since — stays); return how many went."""
    pairs = [(letter.message_id, letter.redis_id) for letter in letters]
    removed = 0
    for start in range(0, len(pairs), 500):
        chunk = pairs[start : start + 500]
        pair = tuple_(IndexedDeadLetter.message_id, IndexedDeadLetter.redis_id)
        result = session.execute(delete(IndexedDeadLetter).where(pair.in_(chunk)))
        removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return removed


def letter_json(row: IndexedDeadLetter) -> dict[str, Any]:
    """Return the API's dead-letter object (SPEC §9, plus `errorClass` of §14)."""
    return {
        "id": row.message_id,
        "queue": row.queue,
        "actor": row.actor,
        "args": row.arguments,
        "restaurantId": row.restaurant_id,
        "attempts": row.attempts,
        "lastError": row.last_error,
        "deadLetteredAt": iso_z(row.dead_lettered_at),
        "errorClass": row.error_class,
    }
