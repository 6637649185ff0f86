"""What operators see of the broker: queue depths and worker heartbeats.

Redis: `<ns>:<queue>` (ready ids) and `<ns>:<queue>.msgs` (ready and in-flight messages),
`.DQ.msgs` (delayed, including retries waiting for their backoff), `.XQ` (dead letters);
heartbeats in `<ns>:__heartbeats__` (broker id → ms of its last command: every process
that talks to the broker, enqueuers included, appears there). RabbitMQ: the server's
message counts of `q`, `q.DQ`, `q.XQ`; no heartbeats.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis


def queue_names(broker: dramatiq.Broker, known: Iterable[str] = ()) -> list[str]:
    """Return the queues that exist in the broker's namespace, plus `known` ones."""
    names = set(known) | set(broker.get_declared_queues())
    if isinstance(broker, RedisBroker):
        prefix = f"{broker.namespace}:"
        for key in broker.client.scan_iter(match=f"{prefix}*.msgs", count=1000):
            name = _text(key)[len(prefix) : -len(".msgs")]
            for suffix in (".DQ", ".XQ"):
                name = name.removesuffix(suffix)
            names.add(name)
    return sorted(name for name in names if not name.startswith("__"))


def queue_depths(broker: dramatiq.Broker, known: Iterable[str] = ()) -> dict[str, dict[str, int]]:
    """Return per queue: ready, delayed and dead messages, and in flight (Redis only)."""
    depths: dict[str, dict[str, int]] = {}
    names = queue_names(broker, known)
    if isinstance(broker, RedisBroker):
        pipe = broker.client.pipeline(transaction=False)
        for name in names:
            key = f"{broker.namespace}:{name}"
            pipe.llen(key)
            pipe.hlen(key + ".msgs")
            pipe.hlen(key + ".DQ.msgs")
            pipe.zcard(key + ".XQ")
        counts = pipe.execute()
        for n, name in enumerate(names):
            ready, held, delayed, dead = (int(c) for c in counts[4 * n : 4 * n + 4])
            depths[name] = {
                "ready": ready,
                "inFlight": max(0, held - ready),
                "delayed": delayed,
                "dead": dead,
            }
        return depths
    for name in names:
        ready, delayed, dead = broker.get_queue_message_counts(name)  # type: ignore[attr-defined]
        depths[name] = {"ready": ready, "delayed": delayed, "dead": dead}
    return depths


def heartbeats(broker: dramatiq.Broker) -> list[dict[str, Any]] | None:
    """Return every broker process's last heartbeat, newest first; None on RabbitMQ."""
    if not isinstance(broker, RedisBroker):
        return None
    now = current_millis()
    entries: Any = broker.client.zrange(
        f"{broker.namespace}:__heartbeats__", 0, -1, withscores=True, desc=True
    )
    return [
        {
            "id": _text(worker),
            "ageSeconds": round((now - score) / 1000, 3),
            "alive": now - score < broker.heartbeat_timeout,
        }
        for worker, score in entries
    ]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
