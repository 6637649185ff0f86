"""The failed sign-in limit: after `LOGIN_FAILURES_PER_MINUTE` failures within 60 s from one
address, that address is refused (`429`) until the oldest of them is a minute old.

A sorted set per address in Redis (`<ns>:signin:failures:<address>`) holds the failures'
times; attempts refused by the limit are not added, so it lifts a minute after the
failures that set it off. With Redis unreachable the limit cannot be counted: sign-in
stays possible (operators need the dashboard most during an outage) and it is logged;
tokens carry 178 random bits, so guessing is hopeless anyway.
"""

from __future__ import annotations

import logging
import time
import uuid

import redis

from store.redis import Keys
from store.timeutil import AtMostEvery

logger = logging.getLogger(__name__)

WINDOW_MS = 60_000


class SignInThrottle:
    """Counts failed sign-ins per client address over a sliding minute.

    Parameters:
      client(redis.Redis): Where the counts live.
      keys(Keys): Our key namespace.
      limit(int): Failures per minute after which an address is refused.
    """

    def __init__(self, client: redis.Redis, keys: Keys, *, limit: int) -> None:
        self.client = client
        self.keys = keys
        self.limit = limit
        self._warn_now = AtMostEvery(60)

    def is_blocked(self, address: str) -> bool:
        """Return True when `address` has used up its failed sign-ins of the last minute."""
        key = self._key(address)
        now_ms = int(time.time() * 1000)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.zremrangebyscore(key, 0, now_ms - WINDOW_MS)
            pipe.zcard(key)
            _, failures = pipe.execute()
        except redis.RedisError as error:
            self._log_outage(error)
            return False
        return int(failures) >= self.limit

    def record_failure(self, address: str) -> None:
        """Count a failed sign-in from `address`."""
        key = self._key(address)
        now_ms = int(time.time() * 1000)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.zadd(key, {uuid.uuid4().hex: now_ms})
            pipe.pexpire(key, WINDOW_MS)
            pipe.execute()
        except redis.RedisError as error:
            self._log_outage(error)

    def _key(self, address: str) -> str:
        return self.keys("signin", "failures", address)

    def _log_outage(self, error: Exception) -> None:
        logger.log(
            logging.WARNING if self._warn_now() else logging.DEBUG,
            "failed sign-ins cannot be counted (Redis unreachable; sign-in stays open): %s",
            error,
        )
