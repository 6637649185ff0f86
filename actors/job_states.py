"""Writing job states in batches, with a Redis journal so a final state is never lost.

JobTracking changes a `Job` row at least twice per message (running, then final). Written
in a transaction each, and waited for, that costs several times a no-op message itself.
So every process has one writer thread that takes all waiting changes and writes them in
one transaction every few milliseconds (changes of one job merged in order), and nobody
waits for it. A final state is first written to a Redis hash, the journal (one `HSET`,
before the message is acknowledged), and removed from it once the database has it; the
relay applies journal entries that a killed process left behind. If the database is
down, a batch is retried briefly, then parked in Redis and applied by the relay too.
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
from sqlalchemy import Connection, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from store.models import Job
from store.timeutil import iso_z, parse_iso_z

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
# How long the writer waits for more changes before writing a batch: a batch of 30 costs
# about 4 times one of 1, and nobody waits on it.
LINGER_S = 0.02
MAX_BATCH = 500
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
      journal_key: Its field in the Redis journal while the database does not have it.
    """

    job_id: str
    values: dict[str, Any]
    attempts: int = 0
    row: dict[str, Any] | None = None
    journal_key: str | None = None
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


class JobStateWriter:
    """A per-process thread writing job changes in batches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[JobChange] = []
        self._written = threading.Condition(self._lock)
        self._submitted = 0
        self._stored = 0
        self._urgent = False
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, change: JobChange, *, wait: bool = False) -> None:
        """Queue `change`; with `wait`, return once it is stored (or parked in Redis)."""
        with self._lock:
            self._ensure_thread()
            self._pending.append(change)
            self._submitted += 1
            target = self._submitted
            self._urgent = self._urgent or wait
            # Wake the writer only when it sleeps for want of work or must hurry: a
            # wake-up per change would cost a thread switch per change.
            if len(self._pending) == 1 or wait or len(self._pending) >= MAX_BATCH:
                self._wake.notify()
            while wait and self._stored < target:
                self._written.wait()

    def flush(self) -> None:
        """Return once every change submitted so far is stored (or parked)."""
        with self._lock:
            target = self._submitted
            self._urgent = True
            self._wake.notify()
            while self._stored < target and self._thread is not None:
                self._written.wait(1.0)

    def _ensure_thread(self) -> None:
        # One thread per process, started lazily: Dramatiq forks its worker processes.
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="job-states", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    self._wake.wait()
                # Linger so that other threads' changes join the batch, unless someone waits.
                deadline = time.monotonic() + LINGER_S
                while len(self._pending) < MAX_BATCH and not self._urgent:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
                changes, self._pending, self._urgent = self._pending, [], False
            try:
                write_changes(changes)
            except Exception:
                logger.exception("job states: batch of %d not written", len(changes))
            finally:
                with self._lock:
                    self._stored += len(changes)
                    self._written.notify_all()


def journal(change: JobChange, broker: Any, redis_message_id: str | None) -> bool:
    """Put a final `change` in the journal; return False when Redis cannot take it.

    On our Redis broker the entry goes with the message's acknowledgement (one `MULTI`);
    otherwise (RabbitMQ, another Redis) it is one `HSET` now.
    """
    from actors.acks import JournalingRedisBroker
    from actors.context import current_runtime

    runtime = current_runtime()
    key = runtime.keys(*JOURNAL)
    change.journal_key = f"{change.job_id}:{os.getpid()}:{next(_sequence)}"
    shares_redis = runtime.settings.broker_url in (None, runtime.settings.redis_url)
    if isinstance(broker, JournalingRedisBroker) and redis_message_id and shares_redis:
        broker.journal_on_ack(redis_message_id, key, change)
        return True
    try:
        with change.guard:
            runtime.redis.hset(key, change.journal_key, change.to_json())
            change.journaled = True
        return True
    except redis.RedisError:
        change.journal_key = None
        return False


def write_changes(changes: list[JobChange]) -> None:
    """Store `changes` in one transaction, retrying briefly; park them in Redis if that fails.

    Their journal entries are removed once they are stored or parked.
    """
    from actors.context import current_runtime

    merged = _merge(changes)
    runtime = current_runtime()
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with runtime.engine.begin() as connection:
                _execute(connection, merged)
            break
        except SQLAlchemyError as error:
            logger.warning(
                "job states: %d not written (%s), attempt %d", len(merged), error, attempt + 1
            )
            time.sleep(0.2 * 2**attempt)
    else:
        if not _park(merged):
            return  # keep the journal entries: the relay applies them later
    journaled: list[str] = []
    for change in changes:
        with change.guard:
            change.stored = True
            if change.journaled and change.journal_key:
                journaled.append(change.journal_key)
    if journaled:
        try:
            runtime.redis.hdel(runtime.keys(*JOURNAL), *journaled)
        except redis.RedisError:
            logger.warning("job states: journal entries not removed (applied again later)")


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


def _park(changes: list[JobChange]) -> bool:
    from actors.context import current_runtime

    runtime = current_runtime()
    try:
        runtime.redis.rpush(runtime.keys(*PARKED_UPDATES), *[c.to_json() for c in changes])
    except redis.RedisError:
        logger.error("job states: %d lost (database and Redis unavailable)", len(changes))
        return False
    logger.error("job states: database unavailable, %d parked in Redis", len(changes))
    return True


def apply_parked_updates(limit: int = 1000) -> int:
    """Apply job states parked while the database was down, and journal entries a killed
    process left behind; return how many were applied."""
    from actors.context import current_runtime

    runtime = current_runtime()
    key = runtime.keys(*PARKED_UPDATES)
    applied = 0
    while applied < limit:
        raw = runtime.redis.lpop(key)
        if raw is None or isinstance(raw, list):
            break
        try:
            with runtime.engine.begin() as connection:
                _execute(connection, [JobChange.from_json(raw)])
        except SQLAlchemyError:
            runtime.redis.lpush(key, raw)  # still down: keep it for the next pass
            break
        applied += 1
    return applied + _apply_orphaned_journal(limit - applied)


def _apply_orphaned_journal(limit: int) -> int:
    from actors.context import current_runtime

    runtime = current_runtime()
    key = runtime.keys(*JOURNAL)
    cutoff = time.time() - JOURNAL_GRACE_S
    applied = 0
    for entry_key, raw in runtime.redis.hscan_iter(key, count=500):
        if applied >= limit:
            break
        if json.loads(raw).get("at", 0) > cutoff:
            continue  # its process may still be writing it
        try:
            with runtime.engine.begin() as connection:
                _execute(connection, [JobChange.from_json(raw)])
        except SQLAlchemyError:
            break  # the database is still down: the entries wait for the next pass
        runtime.redis.hdel(key, entry_key)
        applied += 1
    if applied:
        logger.warning("job states: applied %d final states a stopped worker left", applied)
    return applied
