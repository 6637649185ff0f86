"""Where job states are kept: the `jobs` table, and a Redis journal so a final state is never lost.

JobTracking changes a `Job` row at least twice per message (running, then final). Written
in a transaction each, and waited for, that costs several times a no-op message itself.
So every process has one writer thread (`actors.job_state_writer`) that takes all waiting
changes and writes them here in one transaction every few milliseconds (changes of one
job merged in order), and nobody waits for it. A final state is first written to a Redis
hash, the journal (one `HSET`, before the message is acknowledged: with the ack itself on
our Redis broker, `actors.acks`), and removed from it once the database has it; the relay
applies journal entries that a killed process left behind. If the database is down, a
batch is retried briefly, then parked in Redis and applied by the relay too.

This module imports nothing of `actors`: the broker's acknowledgement code and the
middleware build on it, and `JobStateStore` is handed its engine, Redis client and keys by
whoever runs it (the worker at start, the scheduler), never looking them up.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import Connection, Engine, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from store.models import Job
from store.redis import Keys
from store.timeutil import iso_z, parse_iso_z

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
PARKED_UPDATES = ("jobs", "parked-updates")
JOURNAL = ("jobs", "journal")
# A journal entry older than this belongs to a process that died before writing it.
JOURNAL_GRACE_S = 60
_TIMESTAMPS = ("updated_at", "finished_at", "started_at", "created_at", "enqueued_at")
_sequence = itertools.count()


@dataclass
class JobChange:
    """A change of one job row.

    Parameters:
      job_id: The job (the Dramatiq message id).
      values: Columns to set.
      attempts: How much to add to `attempts`.
      row: Columns of the row to insert when the job has none yet (a message sent
        without a job row written first); None to update only.
    """

    job_id: str
    values: dict[str, Any]
    attempts: int = 0
    row: dict[str, Any] | None = None
    # Its field in the journal hash, once it has been given one.
    journal_field: str | None = None
    # Set under `guard`: the database has it; it is in the journal.
    stored: bool = False
    journaled: bool = False
    guard: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def merge(self, later: JobChange) -> None:
        """Apply `later` on top of this change."""
        self.values.update(later.values)
        self.attempts += later.attempts
        if self.row is None:
            self.row = later.row

    def to_json(self) -> str:
        """Return the change as JSON (journal and parked entries)."""
        entry = {"id": self.job_id, "values": self.values, "attempts": self.attempts}
        entry.update(row=self.row, at=time.time())
        return json.dumps(entry, default=iso_z)

    def journal_entry(self) -> tuple[str, str]:
        """Return this change's field in the journal hash (unique, named on first call) and
        its value."""
        if self.journal_field is None:
            self.journal_field = f"{self.job_id}:{os.getpid()}:{next(_sequence)}"
        return self.journal_field, self.to_json()

    @classmethod
    def from_json(cls, raw: bytes | str) -> JobChange:
        """Return the change stored by `to_json`."""
        entry = json.loads(raw)
        values = dict(entry["values"])
        row = dict(entry["row"]) if entry.get("row") else None
        for mapping in (values, row or {}):
            for column in _TIMESTAMPS:
                if isinstance(mapping.get(column), str):
                    mapping[column] = parse_iso_z(mapping[column])
        attempts = entry.get("attempts", values.pop("attempts_delta", 0))
        return cls(entry["id"], values, int(attempts), row)


class JobStateStore:
    """The job rows of one deployment, with its journal and parked updates in Redis.

    Parameters:
      engine(Engine): The database of the `jobs` table.
      redis(redis.Redis): The client of `REDIS_URL` (journal and parked updates).
      keys(Keys): The deployment's Redis key namespace.
    """

    def __init__(self, engine: Engine, redis: redis.Redis, keys: Keys) -> None:
        self.engine = engine
        self.redis = redis
        self.journal_key = keys(*JOURNAL)
        self.parked_key = keys(*PARKED_UPDATES)

    def journal(self, change: JobChange) -> bool:
        """Put a final `change` in the journal now (one `HSET`); False when Redis cannot
        take it."""
        try:
            with change.guard:
                self.redis.hset(self.journal_key, *change.journal_entry())
                change.journaled = True
            return True
        except redis.RedisError:
            return False

    def write(self, changes: list[JobChange]) -> None:
        """Store `changes` in one transaction, retrying briefly; park them in Redis if that
        fails. Their journal entries are removed once they are stored or parked."""
        merged = _merge(changes)
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.engine.begin() as connection:
                    _execute(connection, merged)
                break
            except SQLAlchemyError as error:
                logger.warning(
                    "job states: %d not written (%s), attempt %d", len(merged), error, attempt + 1
                )
                time.sleep(0.2 * 2**attempt)
        else:
            if not self._park(merged):
                return  # keep the journal entries: the relay applies them later
        journaled: list[str] = []
        for change in changes:
            with change.guard:
                change.stored = True
                if change.journaled and change.journal_field:
                    journaled.append(change.journal_field)
        if journaled:
            try:
                self.redis.hdel(self.journal_key, *journaled)
            except redis.RedisError:
                logger.warning("job states: journal entries not removed (applied again later)")

    def apply_journaled(self, job_id: str) -> bool:
        """Store the final state journaled for `job_id` (its process died before the
        database had it); False when the journal holds none."""
        journaled = dict(self.redis.hscan_iter(self.journal_key, match=f"{job_id}:*"))
        if not journaled:
            return False
        self.write([JobChange.from_json(raw) for raw in journaled.values()])
        self.redis.hdel(self.journal_key, *journaled)
        return True

    def apply_parked(self, limit: int = 1000) -> int:
        """Apply job states parked while the database was down, and journal entries a
        killed process left behind; return how many were applied."""
        applied = 0
        while applied < limit:
            raw = self.redis.lpop(self.parked_key)
            if raw is None or isinstance(raw, list):
                break
            try:
                with self.engine.begin() as connection:
                    _execute(connection, [JobChange.from_json(raw)])
            except SQLAlchemyError:
                self.redis.lpush(self.parked_key, raw)  # still down: keep it for the next pass
                break
            applied += 1
        return applied + self._apply_orphaned_journal(limit - applied)

    def _park(self, changes: list[JobChange]) -> bool:
        try:
            self.redis.rpush(self.parked_key, *[c.to_json() for c in changes])
        except redis.RedisError:
            logger.error("job states: %d lost (database and Redis unavailable)", len(changes))
            return False
        logger.error("job states: database unavailable, %d parked in Redis", len(changes))
        return True

    def _apply_orphaned_journal(self, limit: int) -> int:
        cutoff = time.time() - JOURNAL_GRACE_S
        applied = 0
        for entry_key, raw in self.redis.hscan_iter(self.journal_key, count=500):
            if applied >= limit:
                break
            if json.loads(raw).get("at", 0) > cutoff:
                continue  # its process may still be writing it
            try:
                with self.engine.begin() as connection:
                    _execute(connection, [JobChange.from_json(raw)])
            except SQLAlchemyError:
                break  # the database is still down: the entries wait for the next pass
            self.redis.hdel(self.journal_key, entry_key)
            applied += 1
        if applied:
            logger.warning("job states: applied %d final states a stopped worker left", applied)
        return applied


def _merge(changes: Iterable[JobChange]) -> list[JobChange]:
    by_job: dict[str, JobChange] = {}
    for change in changes:
        if change.job_id in by_job:
            by_job[change.job_id].merge(change)
        else:
            by_job[change.job_id] = JobChange(
                change.job_id, dict(change.values), change.attempts, change.row
            )
    return list(by_job.values())


def _execute(connection: Connection, changes: list[JobChange]) -> None:
    """Write merged changes: upserts for changes that may create the row, updates otherwise."""
    groups: dict[tuple[bool, tuple[str, ...]], list[JobChange]] = {}
    for change in changes:
        key = (change.row is not None, tuple(sorted(change.values)))
        groups.setdefault(key, []).append(change)
    for (upsert, columns), group in groups.items():
        if upsert:
            connection.execute(_upsert(connection, columns), [_insert_params(c) for c in group])
        else:
            statement = (
                update(Job)
                .where(Job.id == bindparam("_id"))
                .values(
                    {name: bindparam(name) for name in columns}
                    | {"attempts": Job.attempts + bindparam("_attempts")}
                )
            )
            params = [{"_id": c.job_id, "_attempts": c.attempts, **c.values} for c in group]
            connection.execute(statement, params)


def _upsert(connection: Connection, columns: tuple[str, ...]) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Job)
    set_ = {name: statement.excluded[name] for name in columns}
    set_["attempts"] = Job.attempts + statement.excluded.attempts
    return statement.on_conflict_do_update(index_elements=[Job.id], set_=set_)


def _insert_params(change: JobChange) -> dict[str, Any]:
    return {**(change.row or {}), **change.values, "id": change.job_id, "attempts": change.attempts}
