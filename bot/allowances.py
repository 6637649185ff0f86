"""The per-minute allowance: accepted messages per restaurant in any 60-second window.

A sliding window in Redis (a sorted set of MessageSids scored by arrival time), checked and
updated by one Lua script, so concurrent web processes agree. The MessageSid is the member,
so a redelivered message is not counted twice. If Redis is unreachable the check fails
open (the message is accepted) and says so in the log: a Redis outage must not silence
every restaurant's bot, and the daily and monthly allowances still hold in the database.
"""

from __future__ import annotations

import logging
import time

import redis

from store.redis import Keys

logger = logging.getLogger(__name__)

WINDOW_MS = 60_000

_TAKE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""


class MinuteAllowance:
    """Sliding-window counter of accepted messages per restaurant."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._take = client.register_script(_TAKE)

    def take(self, restaurant_id: str, message_sid: str, limit: int) -> bool:
        """Count `message_sid` in the window; return False when the window is full."""
        if limit <= 0:
            return False
        try:
            now_ms = int(time.time() * 1000)
            key = self._keys("allowance", "minute", restaurant_id)
            return bool(self._take(keys=[key], args=[now_ms, WINDOW_MS, limit, message_sid]))
        except redis.RedisError as error:
            logger.warning(
                "per-minute allowance unavailable (Redis: %s); accepting message %s",
                type(error).__name__,
                message_sid,
            )
            return True

    def give_back(self, restaurant_id: str, message_sid: str) -> None:
        """Remove `message_sid` from the window (a later allowance refused it)."""
        try:
            self._client.zrem(self._keys("allowance", "minute", restaurant_id), message_sid)
        except redis.RedisError:
            logger.warning("could not give back per-minute slot of %s", message_sid)
