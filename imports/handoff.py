"""How the fetcher threads of an import hand what they read to its writer: one bounded
queue of pages, failures and "this day is done" marks, drained in batches."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from imports.storage import FetchedPage

# The writer stores at most this many pages per transaction (more wait for the next one).
MAX_PAGES_PER_WRITE = 64
POLL_S = 0.25


@dataclass
class Failure:
    """A day whose page could not be read."""

    day: int
    error: BaseException


# A page, a failure, or 1: a day's fetcher is done (finished, stopped or failed).
Arrival = FetchedPage | Failure | int
Arrivals = queue.Queue[Arrival]


def arrivals(threads: int) -> Arrivals:
    """Return the queue: bounded, so fetchers wait while the writer catches up."""
    return queue.Queue(4 * threads)


def put(arrived: Arrivals, item: Arrival, abandoned: threading.Event) -> None:
    """Hand `item` to the writer; drop it once the writer has gone (`abandoned`)."""
    while True:
        try:
            arrived.put(item, timeout=POLL_S)
            return
        except queue.Full:
            if abandoned.is_set():
                return


def take(arrived: Arrivals) -> tuple[list[FetchedPage | Failure], int]:
    """Wait briefly for the next item, then take what else has arrived (up to a write's
    worth); return the pages and failures, and how many days are done."""
    batch: list[FetchedPage | Failure] = []
    finished = 0
    try:
        item = arrived.get(timeout=POLL_S)
    except queue.Empty:
        return batch, finished
    while True:
        if isinstance(item, int):
            finished += item
        else:
            batch.append(item)
        if len(batch) >= MAX_PAGES_PER_WRITE:
            break
        try:
            item = arrived.get_nowait()
        except queue.Empty:
            break
    return batch, finished


@contextlib.contextmanager
def fetchers(threads: int) -> Iterator[tuple[ThreadPoolExecutor, threading.Event]]:
    """Yield a pool of fetcher threads and the event that tells them the writer is gone."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix="order-import")
    abandoned = threading.Event()
    try:
        yield pool, abandoned
    finally:
        # Nobody waits for fetchers still reading (a time limit or a database error in
        # the writer must not wait on the network): they read no further page.
        abandoned.set()
        pool.shutdown(wait=False, cancel_futures=True)
