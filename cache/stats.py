"""Hit and miss counters of the cache, per tier, read by metrics exporters."""

from __future__ import annotations

import threading
from collections import Counter

# What is counted. Tiers: `local_*`, `redis_*`; `loads` are loader (upstream) calls.
COUNTERS = (
    "local_hits",
    "local_misses",
    "redis_hits",
    "redis_misses",
    "redis_errors",
    "loads",
    "load_errors",
    "shared_loads",  # answered by another process's load (cross-process single-flight)
    "joined_loads",  # answered by another thread's load (in-process single-flight)
    "write_errors",
)


class CacheStats:
    """Thread-safe counters of one process; `snapshot()` reads them all at once."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, name: str, amount: int = 1) -> None:
        """Add `amount` to the counter `name` (one of `COUNTERS`)."""
        if name not in COUNTERS:
            raise KeyError(f"unknown cache counter {name!r}")
        with self._lock:
            self._counts[name] += amount

    def snapshot(self) -> dict[str, int]:
        """Return every counter, zeros included, as of now."""
        with self._lock:
            return {name: self._counts[name] for name in COUNTERS}

    def hit_rate(self, tier: str) -> float | None:
        """Return hits ÷ lookups of `tier` ("local" or "redis"), None before any lookup."""
        counts = self.snapshot()
        hits, misses = counts[f"{tier}_hits"], counts[f"{tier}_misses"]
        return hits / (hits + misses) if hits + misses else None
