"""Folding a sealed batch into the hourly aggregates, exactly once (SPEC §12).

Dramatiq delivers at least once, operators replay dead letters and trigger analyses by
hand, and two workers may hold the same message after a recovery. So a fold and the
batch's `analyzed` mark commit in ONE transaction that first claims the batch with a
conditional `UPDATE … SET status = 'analyzed' WHERE status = 'sealed'`: a second run
finds nothing to claim (on PostgreSQL it waits on the first's row lock and then sees
`analyzed`) and changes nothing. A fold that fails rolls back whole, claim included, and
its retry starts afresh.

Folds of one restaurant are serialised (a transaction-scoped advisory lock on
PostgreSQL; SQLite has one writer anyway), because the funnel reads per-conversation
state and writes it back: "reached at least once" is kept per conversation with the
time it was first reached, so a conversation counts once per step, in the hour it first
got there, however its events are spread over batches. New vs returning needs no state:
the webhook knows it when a message opens a conversation (`message_in` detail).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Insert, case, select, text, update
from sqlalchemy.orm import Session

from insights import events as kinds
from insights.models import (
    ANALYZED,
    HOURS_OF_DAY,
    MEASURES,
    OPEN,
    SEALED,
    ConversationEvent,
    ConversationFunnel,
    DailyInsight,
    DailyInsightKey,
    DailyStarts,
    HourlyInsight,
    HourlyInsightKey,
    HourlyText,
    InsightBatch,
    RestaurantInsight,
)
from store.dialects import upsert_for
from store.periods import utc_hour

# Funnel steps and the event that reaches each.
FUNNEL_STEPS = ("welcome", "menu", "category", "branch")
_STEP_OF = {
    kinds.WELCOME_SENT: "welcome",
    kinds.MENU_SHOWN: "menu",
    kinds.CATEGORY_OPENED: "category",
    kinds.BRANCH_CHOSEN: "branch",
}
# Plain counts: the measure each kind adds one to.
_MEASURE_OF = {
    kinds.MESSAGE_IN: "messages_in",
    kinds.WELCOME_SENT: "welcomes",
    kinds.MENU_SHOWN: "menu_shown",
    kinds.CATEGORY_OPENED: "category_opens",
    kinds.BRANCHES_SHOWN: "branches_shown",
    kinds.BRANCH_CHOSEN: "branch_choices",
    kinds.HELP_SHOWN: "help_shown",
    kinds.UNKNOWN_OPTION: "unknown_options",
    kinds.UNRECOGNISED_TEXT: "unrecognised_texts",
    kinds.REPLY_DEFERRED: "replies_deferred",
    kinds.OPTED_OUT: "opt_outs",
    kinds.OPTED_IN: "opt_ins",
    kinds.THROTTLED: "throttled",
    kinds.DELIVERY_FAILED: "delivery_failures",
}
# Keyed counts: (dimension, the detail field holding the key).
_KEYED = {
    kinds.CATEGORY_OPENED: ("category", "categoryId"),
    kinds.BRANCH_CHOSEN: ("branch", "branchId"),
    kinds.DELIVERY_FAILED: ("error_code", "errorCode"),
}
MAX_KEY = 128
# Conversations whose funnel state is read per statement.
STATE_CHUNK = 500


class UnknownBatch(LookupError):
    """The message names a batch that does not exist."""


class OpenBatch(ValueError):
    """The message names a batch that is still open (it cannot be analyzed)."""


@dataclass(frozen=True)
class FoldResult:
    """What one analysis did."""

    batch_id: int
    restaurant_id: str
    events: int
    folded: bool  # False: the batch was already analyzed, nothing changed
    last_event_at: dt.datetime | None = None

    def summary(self) -> dict[str, Any]:
        """Return the job's result."""
        return {
            "batchId": self.batch_id,
            "events": self.events,
            "folded": self.folded,
        }


@dataclass
class _Deltas:
    hours: defaultdict[dt.datetime, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    keys: Counter[tuple[dt.datetime, str, str]] = field(default_factory=Counter)
    texts: Counter[tuple[dt.datetime, str]] = field(default_factory=Counter)
    # Per conversation: the earliest moment each step was reached in this batch.
    reached: defaultdict[int, dict[str, dt.datetime]] = field(
        default_factory=lambda: defaultdict(dict)
    )


def fold_batch(
    session: Session,
    batch_id: int,
    *,
    now: dt.datetime,
    progress: Callable[[int, int, str], None] | None = None,
) -> FoldResult:
    """Fold sealed batch `batch_id` into the aggregates and mark it analyzed, in the
    caller's transaction; an analyzed batch is left as it is (`folded` False).

    Raises:
      UnknownBatch: No such batch.
      OpenBatch: The batch is still open.
    """
    found = session.execute(
        select(InsightBatch.restaurant_id, InsightBatch.status, InsightBatch.events).where(
            InsightBatch.id == batch_id
        )
    ).first()
    if found is None:
        raise UnknownBatch(f"no batch {batch_id}")
    restaurant_id, status, count = found
    if status == OPEN:
        raise OpenBatch(f"batch {batch_id} is open")
    if status == ANALYZED:
        return FoldResult(batch_id, restaurant_id, count, folded=False)
    _lock_restaurant(session, restaurant_id)
    claimed = session.execute(
        update(InsightBatch)
        .where(InsightBatch.id == batch_id, InsightBatch.status == SEALED)
        .values(status=ANALYZED, analyzed_at=now)
        .returning(InsightBatch.id),
        execution_options={"synchronize_session": False},
    ).first()
    if claimed is None:  # another run folded it meanwhile
        return FoldResult(batch_id, restaurant_id, count, folded=False)
    rows = session.execute(
        select(
            ConversationEvent.conversation_id,
            ConversationEvent.kind,
            ConversationEvent.detail,
            ConversationEvent.occurred_at,
        )
        .where(ConversationEvent.batch_id == batch_id)
        .order_by(ConversationEvent.id)
    ).all()
    if progress is not None:
        progress(0, len(rows), "folding")
    deltas = _Deltas()
    for conversation_id, kind, detail, occurred_at in rows:
        _count(deltas, conversation_id, kind, detail or {}, occurred_at)
    _fold_funnel(session, restaurant_id, deltas, now)
    _write(session, restaurant_id, deltas)
    last = max((row[3] for row in rows), default=None)
    if last is not None:
        _freshen(session, restaurant_id, last)
    if progress is not None:
        progress(len(rows), len(rows), "folded")
    return FoldResult(batch_id, restaurant_id, len(rows), folded=True, last_event_at=last)


def _count(
    deltas: _Deltas,
    conversation_id: int | None,
    kind: str,
    detail: dict[str, Any],
    occurred_at: dt.datetime,
) -> None:
    hour = utc_hour(occurred_at)
    counts = deltas.hours[hour]
    measure = _MEASURE_OF.get(kind)
    if measure is None:
        return  # a kind this version does not know
    counts[measure] += 1
    if kind == kinds.MESSAGE_IN and detail.get("opened"):
        counts["conversations"] += 1
        counts["returning_customers" if detail.get("returning") else "new_customers"] += 1
    keyed = _KEYED.get(kind)
    if keyed is not None:
        dimension, name = keyed
        key = detail.get(name)
        deltas.keys[(hour, dimension, str(key)[:MAX_KEY] if key is not None else "unknown")] += 1
    if kind == kinds.UNRECOGNISED_TEXT and detail.get("text"):
        deltas.texts[(hour, str(detail["text"])[: kinds.MAX_TEXT])] += 1
    step = _STEP_OF.get(kind)
    if step is not None and conversation_id is not None:
        seen = deltas.reached[conversation_id]
        if step not in seen or occurred_at < seen[step]:
            seen[step] = occurred_at


def _fold_funnel(session: Session, restaurant_id: str, deltas: _Deltas, now: dt.datetime) -> None:
    """Count each conversation once per step, in the hour it first reached it."""
    if not deltas.reached:
        return
    states = _funnel_states(session, sorted(deltas.reached))
    changed = []
    for conversation_id, reached in sorted(deltas.reached.items()):
        state = states.get(conversation_id, dict.fromkeys(FUNNEL_STEPS))
        updated = False
        for step, moment in reached.items():
            before = state[step]
            if before is not None and before <= moment:
                continue
            if before is not None:  # an earlier first time: it moves to that hour
                deltas.hours[utc_hour(before)][f"reached_{step}"] -= 1
            deltas.hours[utc_hour(moment)][f"reached_{step}"] += 1
            state[step] = moment
            updated = True
        if updated:
            changed.append(
                {
                    "conversation_id": conversation_id,
                    "restaurant_id": restaurant_id,
                    **{f"{step}_at": state[step] for step in FUNNEL_STEPS},
                    "updated_at": now,
                }
            )
    if changed:
        session.execute(_upsert_funnel(_dialect(session)), changed)


def _funnel_states(
    session: Session, conversation_ids: list[int]
) -> dict[int, dict[str, dt.datetime | None]]:
    states: dict[int, dict[str, dt.datetime | None]] = {}
    for start in range(0, len(conversation_ids), STATE_CHUNK):
        chunk = conversation_ids[start : start + STATE_CHUNK]
        for row in session.execute(
            select(
                ConversationFunnel.conversation_id,
                ConversationFunnel.welcome_at,
                ConversationFunnel.menu_at,
                ConversationFunnel.category_at,
                ConversationFunnel.branch_at,
            ).where(ConversationFunnel.conversation_id.in_(chunk))
        ):
            states[row[0]] = dict(zip(FUNNEL_STEPS, row[1:], strict=True))
    return states


def _write(session: Session, restaurant_id: str, deltas: _Deltas) -> None:
    """Add the deltas to the aggregate rows, hourly and daily (one upsert per table)."""
    dialect = _dialect(session)
    days: defaultdict[dt.date, Counter[str]] = defaultdict(Counter)
    for hour, counts in deltas.hours.items():
        days[hour.date()].update(counts)
    for model, key, rows in (
        (HourlyInsight, "hour", deltas.hours),
        (DailyInsight, "day", days),
    ):
        measured = [
            {"restaurant_id": restaurant_id, key: at, **{m: counts[m] for m in MEASURES}}
            for at, counts in sorted(rows.items())
            if any(counts.values())
        ]
        if measured:
            session.execute(_upsert_measures(dialect, model), measured)
    starts: defaultdict[dt.date, Counter[str]] = defaultdict(Counter)
    for hour, counts in deltas.hours.items():
        if counts["conversations"]:
            starts[hour.date()][HOURS_OF_DAY[hour.hour]] += counts["conversations"]
    if starts:
        session.execute(
            _upsert_starts(dialect),
            [
                {"restaurant_id": restaurant_id, "day": day, **{h: n[h] for h in HOURS_OF_DAY}}
                for day, n in sorted(starts.items())
            ],
        )
    daily_keys: Counter[tuple[dt.date, str, str]] = Counter()
    for (hour, dimension, name), count in deltas.keys.items():
        daily_keys[(hour.date(), dimension, name)] += count
    keyed = [
        {"restaurant_id": restaurant_id, "hour": h, "dimension": d, "key": k, "count": n}
        for (h, d, k), n in sorted(deltas.keys.items())
    ]
    if keyed:
        session.execute(_upsert_added(dialect, HourlyInsightKey), keyed)
        session.execute(
            _upsert_added(dialect, DailyInsightKey),
            [
                {"restaurant_id": restaurant_id, "day": day, "dimension": d, "key": k, "count": n}
                for (day, d, k), n in sorted(daily_keys.items())
            ],
        )
    texts = [
        {"restaurant_id": restaurant_id, "hour": h, "text": t, "count": n}
        for (h, t), n in sorted(deltas.texts.items())
    ]
    if texts:
        session.execute(_upsert_added(dialect, HourlyText), texts)


def _freshen(session: Session, restaurant_id: str, last: dt.datetime) -> None:
    insert = upsert_for(_dialect(session))(RestaurantInsight).values(
        restaurant_id=restaurant_id, fresh_as_of=last
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[RestaurantInsight.restaurant_id],
            set_={
                "fresh_as_of": case(
                    (RestaurantInsight.fresh_as_of.is_(None), insert.excluded.fresh_as_of),
                    (
                        RestaurantInsight.fresh_as_of < insert.excluded.fresh_as_of,
                        insert.excluded.fresh_as_of,
                    ),
                    else_=RestaurantInsight.fresh_as_of,
                )
            },
        )
    )


def _lock_restaurant(session: Session, restaurant_id: str) -> None:
    """Serialise folds of one restaurant until commit (SQLite: one writer already)."""
    if _dialect(session) == "postgresql":
        key = lock_key(restaurant_id)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def lock_key(restaurant_id: str) -> int:
    """Return the advisory lock number of a restaurant's folds (a signed 64-bit integer)."""
    digest = hashlib.blake2b(f"insights:{restaurant_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@cache
def _upsert_measures(dialect: str, model: type[HourlyInsight] | type[DailyInsight]) -> Insert:
    insert = upsert_for(dialect)(model)
    keys: list[Any] = [c for c in model.__table__.columns if c.primary_key]
    return insert.on_conflict_do_update(
        index_elements=keys,
        set_={m: getattr(model, m) + getattr(insert.excluded, m) for m in MEASURES},
    )


@cache
def _upsert_starts(dialect: str) -> Insert:
    insert = upsert_for(dialect)(DailyStarts)
    return insert.on_conflict_do_update(
        index_elements=[DailyStarts.restaurant_id, DailyStarts.day],
        set_={h: getattr(DailyStarts, h) + getattr(insert.excluded, h) for h in HOURS_OF_DAY},
    )


@cache
def _upsert_added(
    dialect: str, model: type[HourlyInsightKey] | type[DailyInsightKey] | type[HourlyText]
) -> Insert:
    insert = upsert_for(dialect)(model)
    keys: list[Any] = [c for c in model.__table__.columns if c.primary_key]
    return insert.on_conflict_do_update(
        index_elements=keys, set_={"count": model.count + insert.excluded.count}
    )


@cache
def _upsert_funnel(dialect: str) -> Insert:
    insert = upsert_for(dialect)(ConversationFunnel)
    columns = [f"{step}_at" for step in FUNNEL_STEPS] + ["updated_at"]
    return insert.on_conflict_do_update(
        index_elements=[ConversationFunnel.conversation_id],
        set_={name: getattr(insert.excluded, name) for name in columns},
    )
