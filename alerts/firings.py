"""The once-per-period guard: one `alert_firings` row per (restaurant, metric, threshold,
period), inserted with `ON CONFLICT DO NOTHING`."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from alerts.models import AlertFiring
from store.dialects import upsert_for


@cache
def _insert_firing(dialect: str) -> Any:
    return (
        upsert_for(dialect)(AlertFiring)
        .values(
            restaurant_id=bindparam("restaurant_id"),
            metric=bindparam("metric"),
            threshold=bindparam("threshold"),
            period=bindparam("period"),
            event_id=bindparam("event_id"),
            fired_at=bindparam("now", type_=AlertFiring.fired_at.type),
        )
        .on_conflict_do_nothing(
            index_elements=[
                AlertFiring.restaurant_id,
                AlertFiring.metric,
                AlertFiring.threshold,
                AlertFiring.period,
            ]
        )
        .returning(AlertFiring.id)
    )


def record_firing(
    session: Session,
    restaurant_id: str,
    metric: str,
    threshold: int,
    period: str,
    event_id: str,
    now: dt.datetime,
) -> bool:
    """Record that a rule fired in `period`; False when it had fired already.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and
    then conflicts, so exactly one of many racing processes gets True.
    """
    connection = session.connection()
    row = connection.execute(
        _insert_firing(connection.dialect.name),
        {
            "restaurant_id": restaurant_id,
            "metric": metric,
            "threshold": threshold,
            "period": period,
            "event_id": event_id,
            "now": now,
        },
    ).first()
    return row is not None


def firings_in(
    session: Session, restaurant_id: str, periods: tuple[str, ...]
) -> dict[tuple[str, int], dt.datetime]:
    """Return when each rule of a restaurant fired in these periods (e.g. today's
    `YYYY-MM-DD` and this month's `YYYY-MM`), by (metric, threshold; 0 for pace)."""
    rows = session.execute(
        select(AlertFiring.metric, AlertFiring.threshold, AlertFiring.fired_at).where(
            AlertFiring.restaurant_id == restaurant_id, AlertFiring.period.in_(periods)
        )
    )
    return {(metric, threshold): fired_at for metric, threshold, fired_at in rows}
