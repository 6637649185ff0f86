"""The scheduler's pace check: every restaurant whose month is running hot gets one
`usage.pace_exceeds` per month (SPEC §15).

Run hourly (the webhook also checks when a conversation opens). Restaurants are read in
chunks of `CHUNK`, each chunk costing a fixed number of statements whatever its size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import events
from alerts.firings import record_firing
from alerts.forecast import daily_figures, month_pace
from alerts.rules import PACE, rules_by_restaurant
from store.models import Job, MonthlyUsage, Restaurant, RestaurantBot
from store.settings import Settings
from store.timeutil import local_date

CHUNK = 500


def evaluate_pace(
    transaction: Callable[[], AbstractContextManager[Session]],
    settings: Settings,
    now: dt.datetime,
    *,
    after_commit: Callable[[list[Job]], None],
) -> int:
    """Fire `pace` for every restaurant projected to reach its monthly limit this month;
    return how many fired. `transaction()` opens a session in a transaction (a context
    manager); `after_commit(jobs)` hands each chunk's delivery jobs to the broker."""
    fired, last_id = 0, ""
    while True:
        with transaction() as session:
            jobs, last_id, count, done = _chunk(session, settings, now, last_id)
        fired += count
        if jobs:
            after_commit(jobs)
        if done:
            return fired


def _chunk(
    session: Session, settings: Settings, now: dt.datetime, after_id: str
) -> tuple[list[Job], str, int, bool]:
    rows = session.execute(
        select(Restaurant.id, Restaurant.timezone, RestaurantBot.max_conversations_per_month)
        .outerjoin(RestaurantBot, RestaurantBot.restaurant_id == Restaurant.id)
        .where(Restaurant.id > after_id, Restaurant.is_active.is_(True))
        .order_by(Restaurant.id)
        .limit(CHUNK)
    ).all()
    if not rows:
        return [], after_id, 0, True
    ids = [row[0] for row in rows]
    rules = rules_by_restaurant(session, ids)
    figures = daily_figures(session, ids, now)
    months = {rid: local_date(now, tz) for rid, tz, _ in rows}
    counts = {
        (rid, year, month): count
        for rid, year, month, count in session.execute(
            select(
                MonthlyUsage.restaurant_id,
                MonthlyUsage.year,
                MonthlyUsage.month,
                MonthlyUsage.conversation_count,
            ).where(MonthlyUsage.restaurant_id.in_(ids))
        )
    }
    jobs: list[Job] = []
    fired = 0
    for rid, _timezone, limit in rows:
        if not any(rule.metric == PACE and rule.enabled for rule in rules[rid]):
            continue
        monthly_limit = settings.default_max_conversations_per_month if limit is None else limit
        today = months[rid]
        conversations = counts.get((rid, today.year, today.month), 0)
        if monthly_limit <= 0 or conversations >= monthly_limit:
            continue
        _, _, reached_on = month_pace(
            conversations_last_7_days=figures[rid].conversations_last_7_days,
            conversations_this_month=conversations,
            monthly_limit=monthly_limit,
            today=today,
        )
        if reached_on is None:
            continue
        event_id = events.new_event_id()
        period = f"{today.year:04d}-{today.month:02d}"
        if record_firing(session, rid, PACE, 0, period, event_id, now):
            data = {"projectedDate": reached_on.isoformat(), "limit": monthly_limit}
            jobs += events.emit(session, events.PACE_EXCEEDS, rid, data, now, event_id=event_id)
            fired += 1
    return jobs, ids[-1], fired, len(rows) < CHUNK
