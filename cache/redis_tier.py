"""The shared tier: JSON values in Redis with a TTL, seen by every process."""

from __future__ import annotations

import json
import re
from typing import Any

import redis

from cache.base import MISSING, CacheTier

_GLOB_SPECIALS = re.compile(r"([*?\[\]\\])")


def encode(value: Any) -> str:
    """Return `value` as compact JSON (Arabic kept as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decode(raw: bytes | str | None) -> Any:
    """Return the value stored as `raw`, or `MISSING` for no entry."""
    return MISSING if raw is None else json.loads(raw)


class RedisTier(CacheTier):
    """Store JSON values in Redis under the caller's keys (already namespaced).

    Every method raises `redis.RedisError` when Redis fails: the two-tier cache decides
    what an outage means for its caller.

    Parameters:
      client(redis.Redis): The connection pool to use.
    """

    name = "redis"

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def get(self, key: str) -> Any:
        """Return the value under `key`, or `MISSING`."""
        return decode(self.redis.get(key))

    def get_with_ttl(self, key: str) -> tuple[Any, int]:
        """Return the value under `key` (or `MISSING`) and its remaining life in ms."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        raw, ttl = pipe.execute()
        return decode(raw), int(ttl)

    def set(self, key: str, value: Any, ttl_ms: int) -> None:
        """Store `value` under `key` for `ttl_ms` milliseconds."""
        self.redis.set(key, encode(value), px=ttl_ms)

    def remaining_ttl_ms(self, key: str) -> int | None:
        """Return how long `key` still lives in ms, or None when it is absent."""
        ttl = int(self.redis.pttl(key))
        return None if ttl == -2 else ttl

    def remaining_ttls_ms(self, keys: list[str]) -> list[int | None]:
        """Return `remaining_ttl_ms` of every key, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.pttl(key)
        return [None if int(ttl) == -2 else int(ttl) for ttl in pipe.execute()]

    def delete(self, *keys: str) -> None:
        """Remove the given keys."""
        if keys:
            self.redis.unlink(*keys)

    def purge_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix` (SCAN, never KEYS); return the count."""
        pattern = _GLOB_SPECIALS.sub(r"\\\1", prefix) + "*"
        removed = 0
        batch: list[bytes] = []
        for key in self.redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                removed += int(self.redis.unlink(*batch))
                batch.clear()
        if batch:
            removed += int(self.redis.unlink(*batch))
        return removed
