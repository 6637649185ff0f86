"""Progress of the running job: one small call from inside an actor.

    from actors import progress
    progress.report(done=1, total=3, step="categories")

`partial()` marks the attempt as having done part of its work (its job is `partial` while
it waits for the retry that finishes the rest); `result()` sets the job's result summary.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from dramatiq.middleware import CurrentMessage

from actors.job_state_writer import writer
from actors.job_states import JobChange
from store.timeutil import utcnow


@dataclass
class Report:
    """What the running attempt reported besides progress."""

    result: dict[str, Any] | None = None
    partial: bool = False


_reports: dict[str, Report] = {}
_lock = threading.Lock()


def begin(job_id: str) -> None:
    """Start collecting the report of an attempt (called by the middleware)."""
    with _lock:
        _reports[job_id] = Report()


def end(job_id: str) -> Report:
    """Stop collecting and return the attempt's report (called by the middleware)."""
    with _lock:
        return _reports.pop(job_id, Report())


def _current_id() -> str | None:
    message = CurrentMessage.get_current_message()
    return message.message_id if message is not None else None


def report(done: int, total: int, step: str | None = None) -> None:
    """Record the running job's progress (no-op outside a tracked job); written within ms."""
    job_id = _current_id()
    if job_id is None:
        return
    values = {
        "progress_done": done,
        "progress_total": total,
        "progress_step": (step or "")[:100] or None,
        "updated_at": utcnow(),
    }
    writer.submit(JobChange(job_id, values))


def result(summary: dict[str, Any]) -> None:
    """Set the running job's result summary (stored when the attempt ends)."""
    job_id = _current_id()
    if job_id is not None:
        with _lock:
            _reports.setdefault(job_id, Report()).result = summary


def partial() -> None:
    """Mark the running attempt as partly done (its failed part will be retried)."""
    job_id = _current_id()
    if job_id is not None:
        with _lock:
            _reports.setdefault(job_id, Report()).partial = True
