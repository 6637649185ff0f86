"""Dead letters by the thousand: retry or delete a selection in chunks, and keep the SQL
index in step with Redis.

A bulk action names its letters by a filter or by ids, and says how many it expects (the
count the operator previewed). The letters are taken from the index once; if their number
is not the one expected, nothing is done (`StaleSelection`): the operator saw another set.
Then they are replayed or deleted in chunks of `CHUNK` letters of one queue, one short Lua
script each, so a worker moving a message to the dead letters never waits long behind an
operator; each chunk's index rows go and its jobs turn `queued` in a short transaction.
One bulk action runs at a time (a Redis lock); a second gets `BulkBusy`.

`reconcile_index` compares the index with Redis (the scheduler, every minute): letters
Dramatiq expired after 7 days, or any replayed or deleted while the database was down,
lose their rows; letters the index lacks (moved while Redis or the database was down) get
one, their error taken from their job row.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from actors.dead_letter_store import DeadLetters, index_row
from actors.dead_letters import DELETE, RETRY, index_pending
from bot.runtime import Runtime
from operations import audit, dead_letter_index
from operations.dead_letter_index import DeadLetterFilter, LetterAddress
from operations.error_classes import error_class_of_text
from store.jobs import requeue_jobs
from store.models import Job

logger = logging.getLogger(__name__)

CHUNK = 500
LOCK_MS = 120_000
ACTIONS = {"retry": RETRY, "delete": DELETE}
Action = Literal["retry", "delete"]


class StaleSelection(Exception):
    """The selection no longer has the expected number of letters; nothing was done."""

    def __init__(self, matched: int, expected: int) -> None:
        super().__init__(
            f"{matched} dead letter(s) match now, not the {expected} expected;"
            " nothing was done: preview again"
        )
        self.matched = matched
        self.expected = expected


class BulkBusy(Exception):
    """Another bulk action on the dead letters is running."""


@dataclass(frozen=True)
class BulkOutcome:
    """How many letters the selection had, and how many were retried or deleted (fewer
    when some vanished meanwhile: replayed by someone else, or expired)."""

    matched: int
    done: int


def settle_in_bulk(
    runtime: Runtime,
    action: Action,
    selection: DeadLetterFilter | Sequence[str],
    *,
    expect: int,
    by: str,
) -> BulkOutcome:
    """Retry or delete the letters of `selection` (a filter, or message ids), if there
    are exactly `expect` of them; record it in the audit log as done by `by`.

    Raises:
      StaleSelection: The selection has another number of letters (nothing done).
      BulkBusy: Another bulk action is running.
      DeadLettersUnsupported: On RabbitMQ.
    """
    letters = index_pending(runtime)
    lock = f"{letters.namespace}:dead-letters:bulk-lock"
    token = uuid.uuid4().hex
    if not letters.client.set(lock, token, nx=True, px=LOCK_MS):
        raise BulkBusy("another bulk action on the dead letters is running; try again shortly")
    try:
        with runtime.read_transaction() as session:
            if isinstance(selection, DeadLetterFilter):
                found = dead_letter_index.addresses(session, selection)
            else:
                found = dead_letter_index.addresses_of(session, list(dict.fromkeys(selection)))
        if len(found) != expect:
            raise StaleSelection(len(found), expect)
        done = 0
        for queue, chunk in _chunks(found):
            done += _settle_chunk(runtime, letters, action, queue, chunk)
            letters.client.pexpire(lock, LOCK_MS)
        with runtime.transaction() as session:
            audit.record(
                session,
                key_prefix=by,
                action=ACTIONS[action],
                count=done,
                filter=selection.to_json() if isinstance(selection, DeadLetterFilter) else None,
                ids=None if isinstance(selection, DeadLetterFilter) else list(selection),
            )
    finally:
        if letters.client.get(lock) == token.encode():
            letters.client.delete(lock)
    logger.info("dead letters: %s %d of %d by %s", action, done, len(found), by)
    return BulkOutcome(matched=len(found), done=done)


def _chunks(found: list[LetterAddress]) -> Iterator[tuple[str, list[LetterAddress]]]:
    by_queue: dict[str, list[LetterAddress]] = defaultdict(list)
    for address in found:
        by_queue[address.queue].append(address)
    for queue in sorted(by_queue):
        addresses = by_queue[queue]
        for start in range(0, len(addresses), CHUNK):
            yield queue, addresses[start : start + CHUNK]


def _settle_chunk(
    runtime: Runtime, letters: DeadLetters, action: Action, queue: str, chunk: list[LetterAddress]
) -> int:
    redis_ids = [address.redis_id for address in chunk]
    if action == "retry":
        loaded = letters.load(queue, redis_ids)
        done = letters.replay_many(queue, loaded)
        replayed = [letter.id for letter in loaded if letter.redis_id in done]
    else:
        done = letters.delete_many(queue, redis_ids)
        replayed = []
    # Rows of letters that vanished meanwhile go too: the index follows Redis.
    with runtime.transaction() as session:
        dead_letter_index.forget(session, chunk)
        if replayed:
            requeue_jobs(session, replayed)
    return len(done)


def reconcile_index(runtime: Runtime) -> tuple[int, int]:
    """Bring the index in step with Redis; return (rows added, rows removed)."""
    letters = index_pending(runtime)
    with runtime.read_transaction() as session:
        indexed_queues = dead_letter_index.queues(session)
    added = removed = 0
    for queue in sorted(set(letters.queues()) | set(indexed_queues)):
        # The index first, then Redis: a letter dead-lettered in between looks missing
        # (and is added), never gone.
        with runtime.read_transaction() as session:
            indexed = dead_letter_index.ids_in_queue(session, queue)
        present = letters.redis_ids(queue)
        gone = [
            LetterAddress(message_id=indexed[redis_id], queue=queue, redis_id=redis_id)
            for redis_id in indexed.keys() - present
        ]
        missing = sorted(present - indexed.keys())
        for start in range(0, len(missing), CHUNK):
            added += _index_missing(runtime, letters, queue, missing[start : start + CHUNK])
        if gone:
            with runtime.transaction() as session:
                removed += dead_letter_index.forget(session, gone)
    if added or removed:
        logger.info("dead-letter index reconciled: %d added, %d removed", added, removed)
    return added, removed


def _index_missing(runtime: Runtime, letters: DeadLetters, queue: str, redis_ids: list[str]) -> int:
    loaded = letters.load(queue, redis_ids)
    if not loaded:
        return 0
    with runtime.transaction() as session:
        jobs = {
            job.id: job
            for job in session.scalars(select(Job).where(Job.id.in_([x.id for x in loaded])))
        }
        rows = []
        for letter in loaded:
            job = jobs.get(letter.id)
            last_error = (job.error if job is not None else None) or letter.last_error
            rows.append(
                index_row(
                    letter,
                    error_class=error_class_of_text(last_error),
                    last_error=last_error,
                    attempts=(job.attempts if job is not None and job.attempts else None)
                    or letter.attempts,
                    restaurant_id=job.restaurant_id if job is not None else None,
                )
            )
        # A row the worker noted meanwhile (with its exact error) is kept.
        dead_letter_index.insert_missing(session, rows)
    return len(rows)
