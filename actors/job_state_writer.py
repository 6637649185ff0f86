"""The per-process thread that writes job changes in batches (see `actors.job_states`).

    from actors.job_state_writer import writer
    writer.submit(JobChange(job_id, {"progress_done": 1}))

JobTracking and `actors.progress` submit changes and never wait (except for a final state
the journal could not take); the thread writes whatever is waiting in one transaction
every `LINGER_S`. It writes to the `JobStateStore` it was handed: the worker hands one over
when each process boots (`actors.context`), tests with `actors.context.use_runtime()`.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from actors.job_states import JobChange, JobStateStore

logger = logging.getLogger(__name__)

# How long the writer waits for more changes before writing a batch: a batch of 30 costs
# about 4 times one of 1, and nobody waits on it.
LINGER_S = 0.02
MAX_BATCH = 500


class JobStateWriter:
    """A per-process thread writing job changes in batches to the store it was handed."""

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
        self._store: JobStateStore | None = None

    def use(self, store: JobStateStore | None) -> None:
        """Write to `store` from now on (None: nowhere; changes are then logged and dropped)."""
        self._store = store

    def journal(self, change: JobChange) -> bool:
        """Put a final `change` in the store's journal now; False when it cannot take it."""
        store = self._store
        return store is not None and store.journal(change)

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
            store = self._store
            try:
                if store is None:
                    logger.error(
                        "job states: batch of %d not written: no store was handed over "
                        "(actors.context sets one when a worker process boots)",
                        len(changes),
                    )
                else:
                    store.write(changes)
            except Exception:
                logger.exception("job states: batch of %d not written", len(changes))
            finally:
                with self._lock:
                    self._stored += len(changes)
                    self._written.notify_all()


# One writer per process (its thread starts on first use, after Dramatiq forks).
writer = JobStateWriter()
