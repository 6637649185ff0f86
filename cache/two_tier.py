"""The read-through cache: in-process tier, then Redis, then the loader — once per key.

`get_or_load(key, loader, ttl_ms)`:

1. The local tier answers if it can (no I/O).
2. Otherwise one thread of this process goes on (the others wait for its result) and
   reads Redis; a hit is copied into the local tier for at most Redis's remaining TTL.
3. On a Redis miss one process takes the key's load lock and calls the loader; it
   writes the result to Redis (`ttl_ms`) and the local tier. Processes that find the lock
   taken poll Redis (5 ms, growing to 50 ms) and return the winner's result. When the
   lock disappears without a value (the winner failed, or a purge), they try to take it
   themselves. After `max_wait_ms` (default: the lock's TTL) they stop waiting and load
   themselves, logged — a stuck winner costs one extra upstream call, never a stuck caller.
   A winner stores its value and drops its lock in one step; so waiters look at the lock
   before the value, and whoever takes the lock reads the value once more before loading:
   a load that finishes between two of a waiter's reads is never taken for a failed one.

Redis is an accelerator, never a dependency of the answer: a failed Redis read falls
back to the loader (this process's threads still share one load); a failed write is
logged and the caller gets its value (SPEC §5.3). Both are counted (`redis_errors`,
`write_errors`) and logged at warning at most once a minute per process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis

from cache.base import MISSING, CacheUnavailable
from cache.keys import CacheKeys
from cache.local import LocalTier
from cache.purge import PurgeListener
from cache.redis_tier import RedisTier
from cache.single_flight import InProcessFlights, LoadLock
from cache.stats import CacheStats
from store.settings import Settings
from store.timeutil import AtMostEvery

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOCK_TTL_MS = 30_000
_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 0.005, 0.05


@dataclass(frozen=True)
class PurgeReport:
    """What a purge did: keys removed from Redis, processes that received the notice."""

    deleted: int
    notified: int


class TwoTierCache:
    """A two-tier read-through cache with single-flight across threads and processes.

    Parameters:
      client(redis.Redis): The shared tier.
      channel(str): The pub/sub channel of purge notices.
      local_ttl_ms(int): The longest an entry lives in the local tier (0 disables it).
      local_size(int): The most entries in the local tier.
      lock_ttl_ms(int): How long a load lock outlives a crashed loader.
      max_wait_ms(int): How long to wait for another process's load (default `lock_ttl_ms`).
      clock(Callable): Monotonic seconds for the local tier (tests).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        channel: str,
        local_ttl_ms: int,
        local_size: int,
        lock_ttl_ms: int = LOCK_TTL_MS,
        max_wait_ms: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.local = LocalTier(local_ttl_ms, local_size, clock=clock)
        self.remote = RedisTier(client)
        self.stats = CacheStats()
        self.max_wait_s = (lock_ttl_ms if max_wait_ms is None else max_wait_ms) / 1000
        self._flights = InProcessFlights()
        self._lock = LoadLock(client, lock_ttl_ms)
        self._channel = channel
        self.listener = PurgeListener(
            client, channel, on_purge=self.local.purge_prefix, on_subscribed=self.local.clear
        )
        self._warn_now = AtMostEvery(60)  # Redis outages: one warning a minute, then debug

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis) -> TwoTierCache:
        """Return the cache configured by `LOCAL_CACHE_TTL_MS` and `LOCAL_CACHE_SIZE`."""
        return cls(
            client,
            channel=CacheKeys.for_namespace(settings.redis_namespace).purge_channel(),
            local_ttl_ms=settings.local_cache_ttl_ms,
            local_size=settings.local_cache_size,
        )

    def get_or_load(self, key: str, loader: Callable[[], T], ttl_ms: int) -> T:
        """Return the value under `key`, calling `loader` only when no tier has it.

        Raises:
          Exception: Whatever `loader` raised (nothing is cached then).
        """
        value = self.local.get(key)
        if value is not MISSING:
            self.stats.add("local_hits")
            return value
        self.stats.add("local_misses")
        value, joined = self._flights.run(key, lambda: self._fill(key, loader, ttl_ms))
        if joined:
            self.stats.add("joined_loads")
        return value

    def peek(self, key: str, default: Any = None) -> Any:
        """Return the value under `key` from either tier, or `default`; never load."""
        value = self.local.get(key)
        if value is not MISSING:
            self.stats.add("local_hits")
            return value
        self.stats.add("local_misses")
        self.listener.ensure_started()
        generation = self.local.generation
        try:
            value, remaining = self.remote.get_with_ttl(key)
        except redis.RedisError as error:
            self._redis_failed("redis_errors", "read", key, error)
            return default
        if value is MISSING:
            self.stats.add("redis_misses")
            return default
        return self._from_redis("redis_hits", key, value, remaining, generation)

    def set(self, key: str, value: Any, ttl_ms: int) -> bool:
        """Store `value` in both tiers; return False when Redis failed (logged)."""
        self.listener.ensure_started()
        generation = self.local.generation
        try:
            self.remote.set(key, value, ttl_ms)
        except redis.RedisError as error:
            self._redis_failed("write_errors", "write", key, error)
            self.local.set(key, value, ttl_ms, generation=generation)
            return False
        self.local.set(key, value, ttl_ms, generation=generation)
        return True

    def remaining_ttl_ms(self, key: str) -> int | None:
        """Return how long `key` still lives in Redis, None when absent or Redis is down."""
        try:
            return self.remote.remaining_ttl_ms(key)
        except redis.RedisError as error:
            self._redis_failed("redis_errors", "read", key, error)
            return None

    def remaining_ttls_ms(self, keys: list[str]) -> list[int | None]:
        """Return `remaining_ttl_ms` of every key, in one round trip (all None when Redis is
        down)."""
        try:
            return self.remote.remaining_ttls_ms(keys)
        except redis.RedisError as error:
            self._redis_failed("redis_errors", "read", ", ".join(keys), error)
            return [None] * len(keys)

    def delete(self, key: str) -> PurgeReport:
        """Remove `key` from Redis and from every process's local tier.

        Raises:
          CacheUnavailable: If Redis cannot be reached.
        """
        return self.purge_prefix(key)

    def purge_prefix(self, prefix: str) -> PurgeReport:
        """Remove every key under `prefix` from Redis and every process's local tier.

        Raises:
          CacheUnavailable: If Redis cannot be reached (this process's tier is purged).
        """
        self.local.purge_prefix(prefix)
        try:
            deleted = self.remote.purge_prefix(prefix)
            notified = int(self.remote.redis.publish(self._channel, prefix))
        except redis.RedisError as error:
            raise CacheUnavailable(f"Redis is unreachable: {type(error).__name__}") from error
        logger.info("cache purged prefix=%s deleted=%d notified=%d", prefix, deleted, notified)
        return PurgeReport(deleted, notified)

    def close(self) -> None:
        """Stop the purge listener (the Redis pool belongs to the caller)."""
        self.listener.close()

    # -- the miss path -----------------------------------------------------------------

    def _fill(self, key: str, loader: Callable[[], Any], ttl_ms: int) -> Any:
        self.listener.ensure_started()
        generation = self.local.generation
        try:
            value, remaining = self.remote.get_with_ttl(key)
        except redis.RedisError as error:
            self._redis_failed("redis_errors", "read", key, error)
            return self._load_without_redis(key, loader, ttl_ms, generation)
        if value is not MISSING:
            return self._from_redis("redis_hits", key, value, remaining, generation)
        self.stats.add("redis_misses")
        return self._load_once(key, loader, ttl_ms, generation)

    def _from_redis(
        self, counter: str, key: str, value: Any, remaining: int, generation: int
    ) -> Any:
        """Count a value read from Redis, keep it locally for its remaining life, return it."""
        self.stats.add(counter)
        self._keep_locally(key, value, remaining, generation)
        return value

    def _load_once(self, key: str, loader: Callable[[], Any], ttl_ms: int, generation: int) -> Any:
        deadline = time.monotonic() + self.max_wait_s
        while True:
            try:
                token = self._lock.acquire(key)
                if token is not None:
                    # The previous holder may have stored the value since our last read.
                    value, remaining = self.remote.get_with_ttl(key)
            except redis.RedisError as error:
                self._redis_failed("redis_errors", "lock", key, error)
                return self._load_without_redis(key, loader, ttl_ms, generation)
            if token is not None:
                if value is MISSING:
                    return self._load_as_winner(key, loader, ttl_ms, token, generation)
                self._unlock(key, token)
                return self._from_redis("shared_loads", key, value, remaining, generation)
            pause = _FIRST_PAUSE_S
            while True:
                if time.monotonic() >= deadline:
                    logger.warning(
                        "cache waited %.1f s for another process to load %s; loading it here",
                        self.max_wait_s,
                        key,
                    )
                    return self._load_after_waiting(key, loader, ttl_ms, generation)
                time.sleep(pause)
                pause = min(pause * 1.5, _LONGEST_PAUSE_S)
                try:
                    # The lock before the value: the winner stores its value and drops its
                    # lock in one step, so no lock and no value read in this order means
                    # it gave up (or a purge), never that it just finished.
                    loading = self._lock.is_held(key)
                    value, remaining = self.remote.get_with_ttl(key)
                except redis.RedisError as error:
                    self._redis_failed("redis_errors", "read", key, error)
                    return self._load_without_redis(key, loader, ttl_ms, generation)
                if value is not MISSING:
                    return self._from_redis("shared_loads", key, value, remaining, generation)
                if not loading:
                    break  # the winner gave up, its lock expired, or a purge: try to load

    def _load_as_winner(
        self, key: str, loader: Callable[[], Any], ttl_ms: int, token: str, generation: int
    ) -> Any:
        try:
            value = self._call(loader)
        except BaseException:
            self._unlock(key, token)
            raise
        try:
            stored = self._lock.publish(key, value, ttl_ms, token)
        except redis.RedisError as error:
            self._redis_failed("write_errors", "write", key, error)
            stored = True  # Redis is down, not purged: keep the value in this process
        except (TypeError, ValueError):
            self._lock.release(key, token)  # not JSON: a bug, but waiters must not hang on it
            raise
        if stored:
            self.local.set(key, value, ttl_ms, generation=generation)
        else:
            logger.info("cache did not store %s: purged (or its lock expired) while loading", key)
        return value

    def _unlock(self, key: str, token: str) -> None:
        try:
            self._lock.release(key, token)
        except redis.RedisError as error:
            self._redis_failed("redis_errors", "unlock", key, error)

    def _load_after_waiting(
        self, key: str, loader: Callable[[], Any], ttl_ms: int, generation: int
    ) -> Any:
        value = self._call(loader)
        self._store_loaded(key, value, ttl_ms, generation)
        return value

    def _load_without_redis(
        self, key: str, loader: Callable[[], Any], ttl_ms: int, generation: int
    ) -> Any:
        # Redis just failed: writing there too would only add a timeout to the answer.
        value = self._call(loader)
        self.local.set(key, value, ttl_ms, generation=generation)
        return value

    def _store_loaded(self, key: str, value: Any, ttl_ms: int, generation: int) -> None:
        # Local only when no purge came in between; Redis unconditionally (no lock held).
        try:
            self.remote.set(key, value, ttl_ms)
        except redis.RedisError as error:
            self._redis_failed("write_errors", "write", key, error)
        self.local.set(key, value, ttl_ms, generation=generation)

    def _call(self, loader: Callable[[], Any]) -> Any:
        self.stats.add("loads")
        try:
            return loader()
        except BaseException:
            self.stats.add("load_errors")
            raise

    def _keep_locally(self, key: str, value: Any, remaining_ms: int, generation: int) -> None:
        # -1: stored without a TTL by someone else; trust the local bound alone.
        ttl = self.local.ttl_ms if remaining_ms < 0 else remaining_ms
        self.local.set(key, value, ttl, generation=generation)

    def _redis_failed(self, counter: str, action: str, key: str, error: Exception) -> None:
        self.stats.add(counter)
        logger.log(
            logging.WARNING if self._warn_now() else logging.DEBUG,
            "cache %s failed (Redis), the caller goes on key=%s: %s: %s",
            action,
            key,
            type(error).__name__,
            error,
        )
