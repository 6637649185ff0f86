"""The audit log of operators' actions (SPEC §14): who (the key's display prefix), what,
on which filter or ids, how many, when. Read newest first by `GET /api/admin/audit` and
on the dashboard's Overview."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operations.models import AuditEntry
from store.timeutil import iso_z, utcnow

# Ids kept per entry: a bulk action on a filter records the filter, not 100,000 ids.
MAX_IDS = 1000


def record(
    session: Session,
    *,
    key_prefix: str,
    action: str,
    count: int,
    filter: dict[str, Any] | None = None,
    ids: Sequence[str] | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Add an entry for an action (e.g. `dead_letters.retry`) taken by `key_prefix`."""
    entry = AuditEntry(
        key_prefix=key_prefix,
        action=action,
        filter=filter,
        ids=list(ids)[:MAX_IDS] if ids is not None else None,
        count=count,
        at=at or utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def audit_page(session: Session, *, limit: int, offset: int) -> tuple[int, list[AuditEntry]]:
    """Return the number of entries and one page of them, newest first."""
    total = int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    entries = session.scalars(
        select(AuditEntry)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(entries)


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """Return the API's audit entry object."""
    return {
        "id": entry.id,
        "keyPrefix": entry.key_prefix,
        "action": entry.action,
        "filter": entry.filter,
        "ids": entry.ids,
        "count": entry.count,
        "at": iso_z(entry.at),
    }
