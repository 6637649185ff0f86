"""One import-related change of a restaurant at a time: starting an import, rebuilding its
order aggregates."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Restaurant


def lock_restaurant(session: Session, restaurant_id: str) -> bool:
    """Lock the restaurant's row until the transaction ends; False when there is none.

    PostgreSQL: `FOR NO KEY UPDATE`, so inserts that reference the restaurant (messages,
    orders) go on meanwhile. SQLite serialises writing transactions anyway.
    """
    locked = session.scalar(
        select(Restaurant.id).where(Restaurant.id == restaurant_id).with_for_update(key_share=True)
    )
    return locked is not None
