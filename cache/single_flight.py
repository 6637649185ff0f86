"""Single-flight: one load per key at a time, among threads and among processes.

In a process, threads asking for the same key share one `concurrent.futures.Future`.
Across processes, a Redis lock `SET <key>:loading <token> NX PX <ttl>` elects one loader;
it writes the value only while it still holds the lock (a Lua compare-and-set), so a load
that raced a purge — which deletes the lock with the merchant's keys — is not cached.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import redis

from cache.redis_tier import encode

# KEYS: value, lock. ARGV: token, JSON value, ttl ms.
_WRITE_IF_HELD = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""
# KEYS: lock. ARGV: token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lock_key(key: str) -> str:
    """Return the load lock of `key`: under the same prefix, so a purge removes it too."""
    return f"{key}:loading"


class InProcessFlights:
    """Let one thread load a key while the others asking for it wait for its result."""

    def __init__(self) -> None:
        self._running: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def run(self, key: str, load: Callable[[], Any]) -> tuple[Any, bool]:
        """Return `load()`'s result and whether it came from another thread's call.

        Raises:
          Exception: Whatever the shared `load()` raised, in every waiting thread.
        """
        with self._lock:
            future = self._running.get(key)
            leader = future is None
            if future is None:
                future = self._running[key] = Future()
        if not leader:
            return future.result(), True
        try:
            value = load()
        except BaseException as error:
            future.set_exception(error)
            raise
        else:
            future.set_result(value)
            return value, False
        finally:
            with self._lock:
                self._running.pop(key, None)


class LoadLock:
    """The cross-process lock that elects one loader per key.

    Parameters:
      client(redis.Redis): Where the lock lives.
      ttl_ms(int): How long a lock outlives a crashed holder.
    """

    def __init__(self, client: redis.Redis, ttl_ms: int) -> None:
        self.redis = client
        self.ttl_ms = ttl_ms
        self._write_if_held = client.register_script(_WRITE_IF_HELD)
        self._release = client.register_script(_RELEASE)

    def acquire(self, key: str) -> str | None:
        """Return a token when this caller now loads `key`, None when another one does."""
        token = uuid.uuid4().hex
        return token if self.redis.set(lock_key(key), token, nx=True, px=self.ttl_ms) else None

    def is_held(self, key: str) -> bool:
        """Return True while some process holds the lock of `key`."""
        return bool(self.redis.exists(lock_key(key)))

    def publish(self, key: str, value: Any, ttl_ms: int, token: str) -> bool:
        """Store `value` and release the lock if it is still ours; say whether it was."""
        stored = self._write_if_held(keys=[key, lock_key(key)], args=[token, encode(value), ttl_ms])
        return bool(stored)

    def release(self, key: str, token: str) -> None:
        """Give the lock up without a value (the load failed)."""
        self._release(keys=[lock_key(key)], args=[token])
