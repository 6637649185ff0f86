"""Every kind of tracked job: its actor's name and its queue, declared once, here.

Both sides use the same constant, so a name or a queue can never differ between them:
the actor module declares the actor with it (`@tracked_actor(WELCOME_BOOTSTRAP)`, see
`actors.broker`), and the code that enqueues writes the job row with it
(`bot.jobs.add_job(session, WELCOME_BOOTSTRAP, {...}, restaurant_id=...)`).

Adding a tracked actor is one line here,

    ANALYZE_BATCH = job_kind("analyze_batch", queue="insights")

then `@tracked_actor(ANALYZE_BATCH)` on its function in a module of `actors/` (listed in
`actors/worker.py`). Its queue is shown by the metrics even before its first message.
"""

from __future__ import annotations

from typing import NamedTuple


class JobKind(NamedTuple):
    """A tracked actor: the name its messages and `Job` rows carry, and its queue."""

    actor: str
    queue: str


_declared: dict[str, JobKind] = {}


def job_kind(actor: str, *, queue: str) -> JobKind:
    """Declare the tracked actor `actor` on `queue` and return its kind.

    Raises:
      ValueError: If `actor` is declared already.
    """
    if actor in _declared:
        raise ValueError(f"job kind {actor!r} is declared twice")
    kind = _declared[actor] = JobKind(actor, queue)
    return kind


WELCOME_BOOTSTRAP = job_kind("welcome_bootstrap", queue="bootstrap")
DELIVER_MESSAGE = job_kind("deliver_message", queue="delivery")
SEND_DEFERRED_REPLIES = job_kind("send_deferred_replies", queue="replies")
IMPORT_ORDERS = job_kind("import_orders", queue="imports")
DELIVER_NOTIFICATION = job_kind("deliver_notification", queue="notifications")
ANALYZE_BATCH = job_kind("analyze_batch", queue="insights")


def declared_kinds() -> tuple[JobKind, ...]:
    """Return every declared job kind, in declaration order."""
    return tuple(_declared.values())


def declared_queues() -> tuple[str, ...]:
    """Return the queues of the declared job kinds, each once, in declaration order."""
    return tuple(dict.fromkeys(kind.queue for kind in _declared.values()))
