"""The order-history import (SPEC §13): day chunks read in parallel, every page stored with
where its day stands, a retry resuming after the last page stored, aggregates rebuilt
before the job says it succeeded.

Threads: up to `concurrency` fetchers, one per day chunk at a time, each reading its day's
pages in turn (a page names the next) and parsing them; the calling thread (the actor's) is
the only writer — it stores whatever pages have arrived in one transaction, orders and
chunk states together, rebuilds the aggregates of the days those pages complete (while the
other days are still being read), and reports progress. A failed page stops the fetchers
after their current page; the pages that arrived are stored, then the error is raised, so
the retry reads only what is missing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.client import OrdersPage
from catalog.errors import CatalogUnavailable
from imports import notices
from imports.aggregates import hour_spans, rebuild
from imports.feed import OrdersFeed
from imports.handoff import Arrivals, Failure, arrivals, fetchers, put, take
from imports.locks import lock_restaurant
from imports.models import Order, OrderImport, OrderImportChunk
from imports.requests import ImportRequest
from imports.storage import ChunkState, FetchedPage, progress_of, read_page, store_pages
from store.models import Restaurant
from store.timeutil import utcnow

logger = logging.getLogger(__name__)

Transaction = Callable[[], AbstractContextManager[Session]]
Progress = Callable[[int, int, str], None]

# A day with more pages than this is an upstream bug, not followed forever.
MAX_PAGES_PER_DAY = 10_000
# While another call is the orders breaker's trial, a fetcher waits this long for it.
TRIAL_WAIT_S = 15.0
TRIAL_POLL_S = 0.2


class ImportRefused(Exception):
    """The import cannot succeed by retrying (no such restaurant, the catalog refused)."""


@dataclass(frozen=True)
class ImportOutcome:
    """What a finished import reports as its job's result."""

    orders: int
    days: int
    pages: int

    def result(self) -> dict[str, int]:
        """Return the job's result object (SPEC §13)."""
        return {"orders": self.orders, "days": self.days, "pages": self.pages}


class OrderImporter:
    """Run order-history imports.

    Parameters:
      transaction: Opens a session in a transaction (commit on success), e.g.
        `runtime.transaction`.
      feed(OrdersFeed): The orders endpoint.
      concurrency(int): Day chunks read at once (`IMPORT_CONCURRENCY`).
    """

    def __init__(self, transaction: Transaction, feed: OrdersFeed, *, concurrency: int) -> None:
        self.transaction = transaction
        self.feed = feed
        self.concurrency = max(1, concurrency)

    def run(self, job_id: str, request: ImportRequest, progress: Progress) -> ImportOutcome:
        """Import the request's period for job `job_id`, resuming what earlier runs stored.

        `progress(done, total, step)` is called from this thread after every stored batch.

        Raises:
          ImportRefused: No such restaurant.
          CatalogError: A page could not be read (what was read before is kept).
        """
        merchant_id, chunks, finished = self._begin(job_id, request)
        if finished is not None:
            return finished  # a redelivered message of an import that already succeeded
        pending = [chunk for chunk in chunks.values() if not chunk.done]
        if pending:
            self._read_days(job_id, request, merchant_id, chunks, pending, progress)
        return self._finish(job_id, request, chunks, progress)

    def give_up(self, job_id: str, request: ImportRequest, status: str, error: str) -> None:
        """Record that the import ended `dead` or `failed` (keeping what it stored) and tell
        the owner (`import.failed`), in one transaction."""
        with self.transaction() as session:
            state = session.get(OrderImport, job_id)
            if state is not None:
                if state.status == "succeeded":
                    return
                state.status, state.error, state.finished_at = status, error[:2000], utcnow()
            restaurant = session.get(Restaurant, request.restaurant_id)
            if restaurant is not None:
                notices.import_failed(
                    session, restaurant_id=request.restaurant_id, job_id=job_id, error=error
                )

    def has_stored(self, job_id: str) -> bool:
        """Return True when runs of job `job_id` stored at least one page."""
        with self.transaction() as session:
            pages = session.scalar(
                select(func.sum(OrderImportChunk.pages)).where(OrderImportChunk.job_id == job_id)
            )
        return bool(pages)

    # -- the three phases ----------------------------------------------------------------

    def _begin(
        self, job_id: str, request: ImportRequest
    ) -> tuple[str, dict[int, ChunkState], ImportOutcome | None]:
        with self.transaction() as session:
            restaurant = session.get(Restaurant, request.restaurant_id)
            if restaurant is None:
                raise ImportRefused(f"unknown restaurant {request.restaurant_id!r}")
            state = session.get(OrderImport, job_id)
            if state is None:
                state = OrderImport(
                    job_id=job_id,
                    restaurant_id=request.restaurant_id,
                    days=request.days,
                    since=request.since,
                    until=request.until,
                    status="running",
                )
                session.add(state)
                session.add_all(
                    OrderImportChunk(
                        job_id=job_id,
                        day=chunk.day,
                        since=chunk.since,
                        until=chunk.until,
                        pages=0,
                        orders=0,
                        done=False,
                    )
                    for chunk in request.chunks()
                )
                session.flush()
            rows = session.scalars(
                select(OrderImportChunk).where(OrderImportChunk.job_id == job_id)
            ).all()
            chunks = {row.day: ChunkState.of(row) for row in rows}
            if state.status == "succeeded":
                pages = sum(chunk.pages for chunk in chunks.values())
                return "", chunks, ImportOutcome(state.orders or 0, state.days, pages)
            state.status, state.error, state.finished_at = "running", None, None
            return restaurant.merchant_id, chunks, None

    def _read_days(
        self,
        job_id: str,
        request: ImportRequest,
        merchant_id: str,
        chunks: dict[int, ChunkState],
        pending: list[ChunkState],
        progress: Progress,
    ) -> None:
        threads = min(self.concurrency, len(pending))
        arrived = arrivals(threads)
        stop = threading.Event()  # fetchers: read no further page
        started = time.perf_counter()
        counts = {"pages": 0, "orders": 0, "skipped": 0, "dropped_items": 0}
        failures: list[Failure] = []
        open_days = len(pending)
        resumed = any(chunk.pages for chunk in chunks.values())
        progress(*progress_of(chunks), "resuming" if resumed else "starting")
        with fetchers(threads) as (pool, abandoned):
            for chunk in pending:
                pool.submit(self._read_day, merchant_id, chunk, arrived, stop, abandoned)
            while open_days:
                batch, finished_days = take(arrived)
                open_days -= finished_days
                pages = [item for item in batch if isinstance(item, FetchedPage)]
                for failure in (item for item in batch if isinstance(item, Failure)):
                    failures.append(failure)
                    stop.set()
                if not pages:
                    continue
                self._store(job_id, request.restaurant_id, pages, chunks)
                for page in pages:
                    counts["pages"] += 1
                    counts["orders"] += len(page.records)
                    counts["skipped"] += page.skipped
                    counts["dropped_items"] += page.dropped_items
                last = chunks[pages[-1].day]
                step = f"day {last.day}/{request.days}, page {last.pages}"
                progress(*progress_of(chunks), step)
        elapsed = time.perf_counter() - started
        if counts["skipped"] or counts["dropped_items"]:
            logger.warning(
                "order import %s restaurant=%s: %d unusable order(s) skipped, %d item line(s)"
                " dropped",
                job_id,
                request.restaurant_id,
                counts["skipped"],
                counts["dropped_items"],
            )
        logger.info(
            "order import %s restaurant=%s read %d page(s), %d order(s) in %.2fs%s",
            job_id,
            request.restaurant_id,
            counts["pages"],
            counts["orders"],
            elapsed,
            f"; stopped: day {failures[0].day}: {failures[0].error}" if failures else "",
        )
        if failures:
            raise failures[0].error

    def _store(
        self,
        job_id: str,
        restaurant_id: str,
        pages: list[FetchedPage],
        chunks: dict[int, ChunkState],
    ) -> None:
        """Store pages and their days' state; rebuild the aggregates of the days they end.

        One transaction: a day is `done` exactly when its aggregates are rebuilt, while
        other days are still being read (the job's end then has nothing left to rebuild).
        """
        ending = sorted({page.day for page in pages if page.next_url is None})
        with self.transaction() as session:
            if ending:
                # Before any order row: rebuilds of one restaurant queue on its row.
                lock_restaurant(session, restaurant_id)
            store_pages(
                session, job_id=job_id, restaurant_id=restaurant_id, pages=pages, chunks=chunks
            )
            for first, end in hour_spans((chunks[day].since, chunks[day].until) for day in ending):
                rebuild(session.connection(), restaurant_id, first, end)

    def _read_day(
        self,
        merchant_id: str,
        chunk: ChunkState,
        arrived: Arrivals,
        stop: threading.Event,
        abandoned: threading.Event,
    ) -> None:
        """Read one day's pages from where it stands; runs in a fetcher thread."""
        try:
            url = chunk.next_url or self.feed.first_url(merchant_id, chunk.since, chunk.until)
            for _ in range(MAX_PAGES_PER_DAY):
                if stop.is_set() or abandoned.is_set():
                    return
                page = self._page(merchant_id, url, stop)
                put(arrived, read_page(chunk, page.orders, page.next_url), abandoned)
                if page.next_url is None:
                    return
                url = page.next_url
            raise ImportRefused(f"day {chunk.day} has more than {MAX_PAGES_PER_DAY} pages")
        except Exception as error:
            put(arrived, Failure(chunk.day, error), abandoned)
        finally:
            put(arrived, 1, abandoned)  # this day is done: finished, stopped or failed

    def _page(self, merchant_id: str, url: str, stop: threading.Event) -> OrdersPage:
        """Read a page; while another call is the breaker's trial, wait for its verdict."""
        deadline = time.monotonic() + TRIAL_WAIT_S
        while True:
            try:
                return self.feed.page(merchant_id, url)
            except CatalogUnavailable as unavailable:
                # Open (a cooldown to wait): the attempt ends and its retry waits. Half open
                # (no `retry_after`): one call in flight decides within a request's time.
                if unavailable.retry_after is not None or time.monotonic() > deadline:
                    raise
                if stop.wait(TRIAL_POLL_S):
                    raise

    def _finish(
        self,
        job_id: str,
        request: ImportRequest,
        chunks: dict[int, ChunkState],
        progress: Progress,
    ) -> ImportOutcome:
        with self.transaction() as session:
            orders = session.scalar(
                select(func.count())
                .select_from(Order)
                .where(
                    Order.restaurant_id == request.restaurant_id,
                    Order.created_at >= request.since,
                    Order.created_at < request.until,
                    Order.import_job_id == job_id,
                )
            )
            outcome = ImportOutcome(
                orders or 0, request.days, sum(chunk.pages for chunk in chunks.values())
            )
            state = session.get(OrderImport, job_id)
            if state is not None:
                state.status, state.orders, state.finished_at = (
                    "succeeded",
                    outcome.orders,
                    utcnow(),
                )
            notices.import_completed(
                session, restaurant_id=request.restaurant_id, job_id=job_id, orders=outcome.orders
            )
        progress(outcome.orders, outcome.orders, "done")
        return outcome
