"""Per-process figures made visible to every process through Redis: cache hit counts, breakers.

The cache (`runtime.cache`) counts hits and misses per tier in each process
(`cache.stats.snapshot()`). Each process publishes its snapshot to the hash
`<ns>:metrics:cache` every `PUBLISH_EVERY_S` seconds, under its own id; the metrics
endpoints of any web process sum the fresh entries.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from typing import Any

import redis

from bot.runtime import Runtime

logger = logging.getLogger(__name__)

CACHE_STATS = ("metrics", "cache")
PUBLISH_EVERY_S = 10.0
# An entry not refreshed for this long belongs to a process that stopped.
STALE_AFTER_S = 120.0
TIERS = ("local", "redis")

_publisher_pid = 0
_publisher_lock = threading.Lock()


def breaker_states(runtime: Runtime) -> dict[str, str]:
    """Return merchants whose catalog breaker is open or half-open, with their state."""
    return dict(runtime.catalog_breaker.tripped())


def orders_breaker_states(runtime: Runtime) -> dict[str, str]:
    """Return merchants whose orders-endpoint breaker (order imports) is not closed."""
    return dict(runtime.orders_breaker.tripped())


def publish_cache_stats(runtime: Runtime) -> None:
    """Publish this process's cache counters to Redis."""
    entry = json.dumps({"at": time.time(), "counts": runtime.cache.stats.snapshot()})
    key = runtime.keys(*CACHE_STATS)
    pipe = runtime.redis.pipeline(transaction=False)
    pipe.hset(key, _process_id(), entry)
    pipe.expire(key, int(STALE_AFTER_S))  # gone once every process stopped publishing
    pipe.execute()


def start_publishing(runtime: Runtime) -> None:
    """Publish cache counters every few seconds from a daemon thread (once per process)."""
    global _publisher_pid
    with _publisher_lock:
        if _publisher_pid == os.getpid():
            return
        _publisher_pid = os.getpid()

    def run() -> None:
        while True:
            time.sleep(PUBLISH_EVERY_S)
            try:
                publish_cache_stats(runtime)
            except (redis.RedisError, OSError):
                logger.debug("cache stats not published (Redis unavailable)")
            except Exception:
                logger.exception("cache stats not published")

    threading.Thread(target=run, name="cache-stats", daemon=True).start()


def cache_hit_rates(runtime: Runtime) -> dict[str, Any]:
    """Return hits, misses and hit rate per tier, summed over every live process."""
    publish_cache_stats(runtime)  # this process's figures are current
    totals: dict[str, int] = {}
    processes = 0
    cutoff = time.time() - STALE_AFTER_S
    for raw in runtime.redis.hvals(runtime.keys(*CACHE_STATS)):
        entry = json.loads(raw)
        if entry.get("at", 0) < cutoff:
            continue
        processes += 1
        for name, count in entry.get("counts", {}).items():
            totals[name] = totals.get(name, 0) + int(count)
    tiers = {}
    for tier in TIERS:
        hits, misses = totals.get(f"{tier}_hits", 0), totals.get(f"{tier}_misses", 0)
        lookups = hits + misses
        tiers[tier] = {
            "hits": hits,
            "misses": misses,
            "hitRate": round(hits / lookups, 4) if lookups else None,
        }
    return {"available": True, "processes": processes, "tiers": tiers, "counters": totals}


def _process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
