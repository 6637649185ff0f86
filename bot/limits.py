"""Rate limits of the bootstrap, shared by every worker process through Redis.

Concurrency: at most `BOOTSTRAP_CONCURRENCY` bootstraps run at once. Dramatiq's
`ConcurrentRateLimiter` keeps one counter whose TTL is refreshed by every acquire and
release, so a slot held by a killed worker never frees while traffic goes on; ours is a
`RateLimiter` of the same interface whose holders each have a lease (a sorted set scored
by expiry), so a dead holder's slot frees when its own lease ends.

Rate: at most `BOOTSTRAP_RATE_PER_MINUTE` bootstraps start per merchant in ANY 60 s.
Dramatiq's `WindowRateLimiter` sums one-second buckets, so a window of 60 buckets lets
up to twice the limit through around a bucket edge; 61 buckets cover every 60-second
interval, which makes the promise hold. Its Redis backend checks and counts with
optimistic locking (`WATCH`, `GET`, `MGET` of the 61 buckets, `MULTI`/`SET`/`EXEC`: five
round trips, more under contention), a quarter of a bootstrap's own cost when measured;
`AtomicWindowBackend` does the same in one Lua script.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from dramatiq.rate_limits import RateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from store.redis import Keys

# A bootstrap's whole run must fit well inside its concurrency lease.
BOOTSTRAP_TIME_LIMIT_MS = 60_000
BOOTSTRAP_LEASE_MS = 2 * BOOTSTRAP_TIME_LIMIT_MS

_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


# KEYS: the current bucket first, then every bucket of the window.
# ARGV: amount, maximum, bucket ttl (ms).
_INCR_AND_SUM = """
local total = 0
for _, value in ipairs(redis.call('MGET', unpack(KEYS))) do
  if value then total = total + tonumber(value) end
end
if total + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


class AtomicWindowBackend(RedisBackend):
    """Dramatiq's Redis rate-limit backend, with `incr_and_sum` in one Lua round trip.

    Parameters:
      client(redis.Redis): Where the buckets are kept.
    """

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client=client)
        self._incr_and_sum = client.register_script(_INCR_AND_SUM)

    def incr_and_sum(
        self, key: str, keys: Callable[[], list[str]], amount: int, maximum: int, ttl: int
    ) -> bool:
        window = [key, *(bucket for bucket in keys() if bucket != key)]
        return bool(self._incr_and_sum(keys=window, args=[amount, maximum, ttl]))


class LeasedConcurrentRateLimiter(RateLimiter):
    """At most `limit` holders at once; each holder's slot expires after `lease_ms`.

    Parameters:
      client(redis.Redis): Where the holders are kept.
      key(str): The sorted set of holders.
      limit(int): Holders allowed at once.
      lease_ms(int): Longest a slot is held (longer than the job's time limit).
    """

    def __init__(self, client: redis.Redis, key: str, *, limit: int, lease_ms: int) -> None:
        super().__init__(RedisBackend(client=client), key)
        self.client = client
        self.limit = limit
        self.lease_ms = lease_ms
        self.holder = ""
        self._script = client.register_script(_ACQUIRE)

    def _acquire(self) -> bool:
        self.holder = uuid.uuid4().hex
        now_ms = int(time.time() * 1000)
        acquired = self._script(
            keys=[self.key], args=[now_ms, self.limit, self.lease_ms, self.holder]
        )
        return bool(acquired)

    def _release(self) -> None:
        self.client.zrem(self.key, self.holder)


class BootstrapLimits:
    """The two limits a bootstrap must pass before it calls the catalog API."""

    WINDOW_BUCKETS = 61

    def __init__(
        self, client: redis.Redis, keys: Keys, *, concurrency: int, per_minute: int, lease_ms: int
    ) -> None:
        self.client = client
        self.keys = keys
        self.concurrency = concurrency
        self.per_minute = per_minute
        self.lease_ms = lease_ms
        self.backend = AtomicWindowBackend(client)

    def running(self) -> LeasedConcurrentRateLimiter:
        """Return a fresh slot request on the global concurrency limit."""
        return LeasedConcurrentRateLimiter(
            self.client,
            self.keys("ratelimit", "bootstrap", "running"),
            limit=self.concurrency,
            lease_ms=self.lease_ms,
        )

    def starts(self, merchant_id: str) -> Any:
        """Return the per-merchant start-rate limiter."""
        return WindowRateLimiter(
            self.backend,
            self.keys("ratelimit", "bootstrap", "starts", merchant_id),
            limit=self.per_minute,
            window=self.WINDOW_BUCKETS,
        )
