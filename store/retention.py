"""Retention: old job rows are deleted and old message bodies cleared (SPEC §2).

Rows and counters of messages stay (usage history is computed from counters); only what
the customer wrote or was sent — body and template variables — is set to NULL. Work is
done in chunks so that no transaction holds locks for long.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store.models import Job, Message

FINAL_JOB_STATES = ("succeeded", "failed", "dead")
CHUNK = 1000


def delete_old_jobs(session: Session, *, older_than: dt.datetime, chunk: int = CHUNK) -> int:
    """Delete up to `chunk` jobs in a final state created before `older_than`; return how many."""
    ids = session.scalars(
        select(Job.id)
        .where(Job.status.in_(FINAL_JOB_STATES), Job.created_at < older_than)
        .limit(chunk)
    ).all()
    if not ids:
        return 0
    session.execute(delete(Job).where(Job.id.in_(ids)))
    return len(ids)


def clear_old_message_bodies(
    session: Session, *, older_than: dt.datetime, chunk: int = CHUNK
) -> int:
    """Set body and template variables of up to `chunk` messages created before
    `older_than` to NULL; return how many messages were cleared."""
    ids = session.scalars(
        select(Message.id)
        .where(
            Message.created_at < older_than,
            (Message.body.is_not(None)) | (Message.content_variables.is_not(None)),
        )
        .limit(chunk)
    ).all()
    if not ids:
        return 0
    session.execute(
        update(Message).where(Message.id.in_(ids)).values(body=None, content_variables=None)
    )
    return len(ids)
