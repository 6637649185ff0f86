"""An actor whose first database connection turned out closed by the server (a failover, a
restarted PgBouncer) runs once more, in the same attempt, on a fresh connection
(`store.disconnects` decides when that is safe).

Without it the attempt would fail, wait for the retry backoff and count as an attempt;
nothing of the first run remains in the database, so the job row shows one attempt. A
second failure fails the attempt as before.
"""

from __future__ import annotations

import functools
from typing import Any

import dramatiq

from store.disconnects import once_more_on_disconnect


class OnceMoreOnDisconnect(dramatiq.Middleware):
    """Wraps every actor declared on the broker so that it runs once more after a disconnect."""

    def after_declare_actor(self, broker: dramatiq.Broker, actor: dramatiq.Actor[Any, Any]) -> None:
        fn = actor.fn
        what = f"job {actor.actor_name}"

        @functools.wraps(fn)
        def once_more(*args: Any, **kwargs: Any) -> Any:
            return once_more_on_disconnect(lambda: fn(*args, **kwargs), what=what)

        actor.fn = once_more
