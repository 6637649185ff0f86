"""Dead letters for operators: list, replay and delete, audited (SPEC §9, §14).

Lists, filters and counts read the SQL index of the letters (`operations.dead_letter_index`),
never decoding Redis; replays and deletes find a letter through it and remove its row.
Redis itself is `actors.dead_letter_store`; bulk actions and the index's reconciliation
are `actors.dead_letter_bulk`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from actors.dead_letter_store import DeadLetter, DeadLetters, pending_index_key
from bot.runtime import Runtime
from operations import audit, dead_letter_index
from operations.dead_letter_index import DeadLetterFilter, LetterAddress
from store.jobs import requeue_job
from store.timeutil import parse_iso_z

logger = logging.getLogger(__name__)

# What the audit log calls these actions.
RETRY = "dead_letters.retry"
DELETE = "dead_letters.delete"

# Noted index rows moved per round, and rounds per call (the scheduler takes the rest).
PENDING_BATCH = 500
PENDING_ROUNDS = 20


def list_letters(
    runtime: Runtime,
    *,
    offset: int,
    limit: int,
    letters: DeadLetterFilter = DeadLetterFilter(),
    count_limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Return the number of matching dead letters and one page of them as API objects,
    most recently dead first (read from the index). With `count_limit` counting stops
    past it (a page shows "10,000+"; a bulk preview counts them all).

    Raises:
      DeadLettersUnsupported: On RabbitMQ.
      redis.RedisError: When Redis is unreachable (the letters could not be acted on).
    """
    index_pending(runtime)
    with runtime.read_transaction() as session:
        total = dead_letter_index.count(session, letters, limit=count_limit)
        rows = dead_letter_index.page(session, letters, limit=limit, offset=offset)
        return total, [dead_letter_index.letter_json(row) for row in rows]


def retry_letter(runtime: Runtime, message_id: str, *, by: str) -> bool:
    """Replay dead letter `message_id` and mark its job queued; False if there is none.

    The audit log records it as done by `by` (a key's display prefix, or `cli`).
    """
    letters = index_pending(runtime)
    letter = _locate(runtime, letters, message_id)
    if letter is None or not letters.replay(letter):
        return False
    with runtime.transaction() as session:
        dead_letter_index.forget(session, [_address(letter)])
        requeue_job(session, message_id)
        audit.record(session, key_prefix=by, action=RETRY, count=1, ids=[message_id])
    logger.info("dead letter %s (%s) replayed on %s", message_id, letter.actor, letter.queue)
    return True


def delete_letter(runtime: Runtime, message_id: str, *, by: str) -> bool:
    """Delete dead letter `message_id`; False if there is none (audited as done by `by`)."""
    letters = index_pending(runtime)
    letter = _locate(runtime, letters, message_id)
    if letter is None or not letters.delete(letter):
        return False
    with runtime.transaction() as session:
        dead_letter_index.forget(session, [_address(letter)])
        audit.record(session, key_prefix=by, action=DELETE, count=1, ids=[message_id])
    logger.info("dead letter %s (%s) deleted from %s", message_id, letter.actor, letter.queue)
    return True


def index_pending(runtime: Runtime) -> DeadLetters:
    """Move the index rows workers noted (`DeadLetterIndexing`) into the SQL index, so what
    follows sees every letter dead-lettered so far; return the broker's dead letters.

    Raises:
      DeadLettersUnsupported: On RabbitMQ.
      redis.RedisError: When Redis is unreachable.
    """
    letters = DeadLetters(runtime.broker)
    key = pending_index_key(letters.namespace)
    for _ in range(PENDING_ROUNDS):
        raw: Any = letters.client.lpop(key, PENDING_BATCH)
        if not raw:
            break
        rows = [_pending_row(entry) for entry in raw]
        try:
            with runtime.transaction() as session:
                dead_letter_index.upsert(session, rows)
        except Exception:
            letters.client.rpush(key, *raw)  # kept for the next reader
            raise
        if len(raw) < PENDING_BATCH:
            break
    return letters


def _pending_row(entry: bytes | str) -> dict[str, Any]:
    row = json.loads(entry)
    row["dead_lettered_at"] = parse_iso_z(row["dead_lettered_at"])
    return row


def _locate(runtime: Runtime, letters: DeadLetters, message_id: str) -> DeadLetter | None:
    """Find a letter through the index; search Redis itself only when the index does not
    know it (a letter moved while the database was down, before reconciliation)."""
    with runtime.read_transaction() as session:
        found = dead_letter_index.addresses_of(session, [message_id])
    for address in found:
        loaded = letters.load(address.queue, [address.redis_id])
        if loaded:
            return loaded[0]
    return letters.find(message_id)


def _address(letter: DeadLetter) -> LetterAddress:
    return LetterAddress(message_id=letter.id, queue=letter.queue, redis_id=letter.redis_id)
