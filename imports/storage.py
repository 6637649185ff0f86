"""Storing fetched pages: the orders (upserted by restaurant and order id) and where each
day chunk stands, in ONE transaction, so a retry resumes exactly after the last page stored
and never stores an order twice."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.orm import Session

from imports.models import Order, OrderImportChunk, OrderProduct
from imports.records import BadOrder, OrderRecord, read_order
from store.dialects import upsert_for
from store.timeutil import utcnow

logger = logging.getLogger(__name__)

_UPDATED = (
    "created_at",
    "hour",
    "day",
    "branch_id",
    "currency",
    "total_minor",
    "customer_ref",
    "items",
    "import_job_id",
    "imported_at",
)


@dataclass
class ChunkState:
    """Where one day chunk of an import stands (as stored, then as pages arrive)."""

    day: int
    since: dt.datetime
    until: dt.datetime
    next_url: str | None = None
    pages: int = 0
    orders: int = 0
    estimate: int | None = None
    done: bool = False

    @classmethod
    def of(cls, row: OrderImportChunk) -> ChunkState:
        return cls(
            row.day,
            row.since,
            row.until,
            row.next_url,
            row.pages,
            row.orders,
            row.estimate,
            row.done,
        )


@dataclass
class FetchedPage:
    """A page read for a chunk: its orders, the next page's URL (None: the day is done)."""

    day: int
    records: list[OrderRecord]
    next_url: str | None
    skipped: int = 0
    dropped_items: int = field(default=0)


def read_page(chunk: ChunkState, orders: list[dict[str, Any]], next_url: str | None) -> FetchedPage:
    """Return the page of `chunk` whose raw orders are `orders`: the usable ones of its day."""
    records = []
    skipped = dropped = 0
    for raw in orders:
        try:
            record = read_order(raw)
        except BadOrder as problem:
            logger.debug("order skipped: %s", problem)
            skipped += 1
            continue
        if not chunk.since <= record.created_at < chunk.until:
            # Outside the day asked for: another day's chunk stores it (or it is not ours).
            skipped += 1
            continue
        records.append(record)
        dropped += record.dropped_items
    return FetchedPage(chunk.day, records, next_url, skipped, dropped)


def progress_of(chunks: dict[int, ChunkState]) -> tuple[int, int]:
    """Return orders stored and the estimated total: days read so far as they stand, days
    not begun as the average of those begun (the estimate grows as pages arrive)."""
    done = sum(chunk.orders for chunk in chunks.values())
    begun = [chunk.estimate for chunk in chunks.values() if chunk.estimate is not None]
    waiting = len(chunks) - len(begun)
    average = sum(begun) / len(begun) if begun else 0
    total = sum(begun) + round(average * waiting)
    return done, max(done, total)


def store_pages(
    session: Session,
    *,
    job_id: str,
    restaurant_id: str,
    pages: Sequence[FetchedPage],
    chunks: dict[int, ChunkState],
) -> None:
    """Upsert the pages' orders and advance their chunks' state (`chunks`, updated in place).

    The caller commits: orders and chunk states are stored together or not at all.
    """
    now = utcnow()
    rows: dict[str, dict[str, object]] = {}
    for page in pages:
        for record in page.records:
            rows[record.order_id] = {
                "restaurant_id": restaurant_id,
                "order_id": record.order_id,
                "created_at": record.created_at,
                "hour": record.hour,
                "day": record.day,
                "branch_id": record.branch_id,
                "currency": record.currency,
                "total_minor": record.total_minor,
                "customer_ref": record.customer_ref,
                "items": record.items,
                "import_job_id": job_id,
                "imported_at": now,
            }
    connection = session.connection()
    if rows:
        insert = upsert_for(connection.dialect.name)(Order)
        statement = insert.on_conflict_do_update(
            index_elements=[Order.restaurant_id, Order.order_id],
            set_={name: insert.excluded[name] for name in _UPDATED},
        )
        connection.execute(statement, list(rows.values()))
        _name_products(connection, restaurant_id, pages)
    touched: dict[int, ChunkState] = {}
    for page in pages:
        chunk = chunks[page.day]
        chunk.pages += 1
        chunk.orders += len(page.records)
        chunk.next_url = page.next_url
        chunk.done = page.next_url is None
        # At least one more page like this one while the day has more.
        chunk.estimate = chunk.orders + (len(page.records) if page.next_url else 0)
        touched[page.day] = chunk
    connection.execute(
        update(OrderImportChunk)
        .where(OrderImportChunk.job_id == bindparam("_job"))
        .where(OrderImportChunk.day == bindparam("_day"))
        .values(
            next_url=bindparam("_next"),
            pages=bindparam("_pages"),
            orders=bindparam("_orders"),
            estimate=bindparam("_estimate"),
            done=bindparam("_done"),
        ),
        [
            {
                "_job": job_id,
                "_day": chunk.day,
                "_next": chunk.next_url,
                "_pages": chunk.pages,
                "_orders": chunk.orders,
                "_estimate": chunk.estimate,
                "_done": chunk.done,
            }
            for chunk in touched.values()
        ],
    )


def _name_products(
    connection: Connection, restaurant_id: str, pages: Sequence[FetchedPage]
) -> None:
    """Keep each product's name as its latest order spells it (for the top items)."""
    latest: dict[str, tuple[dt.datetime, str]] = {}
    for page in pages:
        for record in page.records:
            for product_id, name, _quantity, _price in record.items:
                known = latest.get(product_id)
                if known is None or (record.created_at, name) > known:
                    latest[product_id] = (record.created_at, name)
    if not latest:
        return
    insert = upsert_for(connection.dialect.name)(OrderProduct)
    statement = insert.on_conflict_do_update(
        index_elements=[OrderProduct.restaurant_id, OrderProduct.product_id],
        set_={"name": insert.excluded.name, "named_at": insert.excluded.named_at},
        where=OrderProduct.named_at < insert.excluded.named_at,
    )
    connection.execute(
        statement,
        [
            {"restaurant_id": restaurant_id, "product_id": product, "name": name, "named_at": at}
            for product, (at, name) in sorted(latest.items())
        ],
    )
