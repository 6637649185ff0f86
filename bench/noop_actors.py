"""Two no-op actors, one tracked and one not, for `bench/jobs.py`.

Run as `dramatiq actors.context:setup bench.noop_actors`: the broker is installed first.
"""

from __future__ import annotations

import dramatiq

from actors.broker import installed_broker

installed_broker()


@dramatiq.actor(queue_name="bench-tracked", tracked=True)
def noop_tracked(n: int = 0) -> None:
    """Do nothing, with a Job row kept current by JobTracking."""


@dramatiq.actor(queue_name="bench-untracked")
def noop_untracked(n: int = 0) -> None:
    """Do nothing."""


@dramatiq.actor(queue_name="bench-slow", tracked=True, max_retries=0)
def sleepy(seconds: float) -> None:
    """Sleep, so a worker can be killed in the middle of it."""
    import time

    time.sleep(seconds)
