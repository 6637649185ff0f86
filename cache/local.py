"""The in-process tier: a bounded LRU whose entries expire, behind a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from cachetools import TLRUCache

from cache.base import MISSING, CacheTier


class _Entry(NamedTuple):
    value: Any
    ttl_s: float


def _expires_at(_key: str, entry: _Entry, now: float) -> float:
    return now + entry.ttl_s


class LocalTier(CacheTier):
    """Keep up to `size` entries in this process, each at most `ttl_ms` (0 disables the tier).

    A cachetools `TLRUCache` rather than `TTLCache`: an entry copied from Redis may live
    only as long as Redis still keeps it, so each entry carries its own time to live.
    cachetools is not thread-safe; one lock guards every access.

    `generation` grows with every purge; a writer that read its value before a purge
    passes the generation it saw to `set` and the stale value is not stored.

    Parameters:
      ttl_ms(int): The longest an entry lives here (`LOCAL_CACHE_TTL_MS`).
      size(int): The most entries kept (`LOCAL_CACHE_SIZE`); least recently used go first.
      clock(Callable): Monotonic seconds (tests pass a fake clock).
    """

    name = "local"

    def __init__(
        self, ttl_ms: int, size: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_ms = ttl_ms
        self._entries: TLRUCache[str, _Entry] = TLRUCache(
            maxsize=size, ttu=_expires_at, timer=clock
        )
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Return the number of purges so far."""
        return self._generation

    def get(self, key: str) -> Any:
        """Return the live value under `key`, or `MISSING`."""
        with self._lock:
            entry = self._entries.get(key)
        return MISSING if entry is None else entry.value

    def set(self, key: str, value: Any, ttl_ms: int, *, generation: int | None = None) -> None:
        """Store `value` for `min(ttl_ms, LOCAL_CACHE_TTL_MS)`, unless a purge came between."""
        ttl = min(ttl_ms, self.ttl_ms)
        if ttl <= 0:
            return
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            self._entries[key] = _Entry(value, ttl / 1000)

    def delete(self, *keys: str) -> None:
        """Remove the given keys."""
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def purge_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix`; return how many were removed."""
        with self._lock:
            self._generation += 1
            self._entries.expire()
            doomed = [key for key in self._entries if key.startswith(prefix)]
            for key in doomed:
                self._entries.pop(key, None)
        return len(doomed)

    def clear(self) -> None:
        """Remove every entry (after missing purge notices, e.g. on reconnect)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            self._entries.expire()
            return len(self._entries)
