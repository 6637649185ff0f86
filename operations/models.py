"""Operators' tables: audit log, dead-letter index, job outcomes per hour."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, BigId
from store.timeutil import utcnow


class AuditEntry(Base):
    """One operator action: who (the key's display prefix), what, on which letters, when."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key_prefix: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    filter: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ids: Mapped[list[str] | None] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class IndexedDeadLetter(Base):
    """A dead letter of the Redis broker, as a row: filters and counts need no decoding.

    Written when a worker moves a message to the dead letters, removed when a letter is
    replayed or deleted, and reconciled with Redis every minute (letters Dramatiq expired,
    or moved while the database was down).
    """

    __tablename__ = "dead_letter_index"
    __table_args__ = (
        Index(None, "dead_lettered_at"),
        Index(None, "actor", "dead_lettered_at"),
        Index(None, "restaurant_id", "dead_lettered_at"),
        Index(None, "error_class", "dead_lettered_at"),
    )

    # The Dramatiq message id (= the job id).
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    queue: Mapped[str] = mapped_column(String(100))
    # Its id in the queue's `.XQ` sorted set and `.XQ.msgs` hash.
    redis_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    restaurant_id: Mapped[str | None] = mapped_column(String(64))
    # The final error's exception class (`CatalogUnavailable`, `TwilioError:63016`).
    error_class: Mapped[str] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    # {"args": [...], "kwargs": {...}} as the message carried them.
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    dead_lettered_at: Mapped[dt.datetime] = mapped_column()


class JobOutcomeHour(Base):
    """How many jobs of an actor ended in an outcome during one UTC hour.

    Kept after the job rows are deleted (`JOB_RETENTION_DAYS`), so the dashboard's
    history outlives them (`operations.job_outcomes`).
    """

    __tablename__ = "job_outcome_hours"

    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(100), primary_key=True)
    # succeeded | partial | failed | dead
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
